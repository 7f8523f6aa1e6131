"""PIPELINING (RFC 2920): where the server offers it, MAIL, RCPT and DATA go in one write, one
round trip where smtplib waits for three; refusals mean what they mean without it."""

import pytest

from saas.extensions import db
from saas.mail.models import OutboundEmail


def submit(auth, email="ada@example.com"):
    fields = {"name": "Ada Lovelace", "email": email, "message": "Hello!"}
    assert auth.post("/contact", fields, token_from="/contact").status_code == 303


def outcomes(app) -> dict[str, tuple[str, int]]:
    with app.app_context():
        rows = db.session.execute(db.select(OutboundEmail)).scalars()
        return {row.template: (row.status, row.attempts) for row in rows}


@pytest.mark.parametrize("offered", [True, False])
def test_mail_rcpt_and_data_are_sent_together_only_when_the_server_offers_pipelining(
    app, auth, mailbox, run_queued_tasks, offered
):
    mailbox.offer_pipelining(offered)
    submit(auth)
    assert run_queued_tasks() == 2
    assert len(mailbox.wait_for(2)) == 2
    # The server read each MAIL and RCPT with what followed it already waiting, or not.
    assert mailbox.commands == [("MAIL", offered), ("RCPT", offered)] * 2
    assert set(outcomes(app).values()) == {("sent", 1)}


@pytest.mark.app_config(CONTACT_LIMIT_PER_VISITOR="5 per minute")
def test_a_pipelined_refusal_is_permanent_or_transient_by_its_code_and_the_next_email_goes(
    app, auth, mailbox, run_queued_tasks
):
    mailbox.rejected.add("gone@example.com")  # 550
    mailbox.deferred.add("later@example.com")  # 451
    submit(auth, email="gone@example.com")
    submit(auth, email="later@example.com")
    run_queued_tasks()  # the four deliveries, and the retry's task, moved to Huey's schedule
    with app.app_context():
        rows = db.session.execute(db.select(OutboundEmail).order_by(OutboundEmail.id)).scalars()
        by_address = {row.to_address: (row.status, row.attempts, row.last_error) for row in rows}
    status, attempts, error = by_address["gone@example.com"]
    assert (status, attempts) == ("failed", 1) and error.startswith("PermanentError: SMTP 550")
    status, attempts, error = by_address["later@example.com"]
    assert (status, attempts) == ("retrying", 1) and error.startswith("TransientError: SMTP 451")
    # Both messages to us went through, on sessions opened after each refusal.
    assert [m["To"] for m in mailbox.wait_for(2)] == ["support@saas.test"] * 2
    assert by_address["support@saas.test"][:2] == ("sent", 1)
