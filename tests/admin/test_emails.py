"""/admin/emails over HTTP: the outbox's list, filters and pages, an email's page, and the
actions (retry, discard, retry every failed), each in the audit log whether done or refused."""

import re
from pathlib import Path

import pytest

from saas.admin.console import PAGE_SIZE
from saas.admin.models import AuditEntry
from saas.extensions import db
from saas.mail import send_bulk, send_email, services
from saas.mail.models import OutboundEmail
from saas.mail.transport import eml_path
from tests.admin.test_console import log_in_admin
from tests.support.smtp import text_body

RESET_LINK = "http://localhost/password/reset/secret-token-123"
ROW = re.compile(r'data-email="(\d+)"')


def add_email(app, to="ada@example.com", template="password_changed", **context) -> int:
    with app.app_context():
        email = send_email(to=to, template=template, **context)
        db.session.commit()
        return email.id


def email_row(app, email_id: int) -> OutboundEmail:
    with app.app_context():
        return db.session.get(OutboundEmail, email_id)


def audit(app) -> list[tuple]:
    with app.app_context():
        entries = db.session.execute(db.select(AuditEntry).order_by(AuditEntry.id)).scalars()
        return [(e.action, e.target_id, e.outcome, e.message) for e in entries]


def listed(auth, query: str = "") -> list[int]:
    response = auth.client.get(f"/admin/emails{query}")
    assert response.status_code == 200
    return [int(email_id) for email_id in ROW.findall(response.get_data(as_text=True))]


def failed_send(app, mailbox, run_queued_tasks, to="ada@example.com") -> int:
    """An email the mail server refused for good (SMTP 550)."""
    mailbox.rejected.add(to)
    email_id = add_email(app, to=to)
    run_queued_tasks()
    assert email_row(app, email_id).status == "failed"
    return email_id


def test_the_outbox_lists_filters_and_pages_and_refuses_bad_filters(app, auth):
    log_in_admin(app, auth)
    ada = add_email(app, to="ada@example.com", template="password_changed")
    bob = add_email(
        app, to="bob@example.com", template="payment_failed", amount="1", billing_url="x"
    )
    with app.app_context():
        db.session.get(OutboundEmail, bob).status = "failed"
        db.session.commit()
    assert listed(auth) == [bob, ada]  # newest first
    assert listed(auth, "?status=failed") == [bob]
    assert listed(auth, "?template=password_changed") == [ada]
    assert listed(auth, "?to=ada@example.com&status=queued") == [ada]
    assert listed(auth, "?to=carol@example.com") == []

    for bad in (
        "status=lost",
        "template=../../etc",
        "to=not-an-address",
        "before=x",
        "before=9" * 30,
    ):
        response = auth.client.get(f"/admin/emails?{bad}")
        assert response.status_code == 400, bad
        assert "is not" in response.get_data(as_text=True)


def test_the_outbox_pages_by_id(app, auth):
    log_in_admin(app, auth)
    with app.app_context():
        ids = send_bulk(
            [
                {"to": f"u{n}@example.com", "template": "password_changed"}
                for n in range(PAGE_SIZE + 1)
            ]
        )
        db.session.commit()
    first = auth.client.get("/admin/emails").get_data(as_text=True)
    assert [int(i) for i in ROW.findall(first)] == ids[::-1][:PAGE_SIZE]
    assert f"before={ids[1]}" in first  # the next page starts below the last one shown
    assert listed(auth, f"?before={ids[1]}") == [ids[0]]


def test_an_emails_page_shows_headers_text_part_attempts_error_and_hides_one_time_links(app, auth):
    log_in_admin(app, auth)
    email_id = add_email(app, template="password_reset", reset_link=RESET_LINK, valid_hours=2)
    with app.app_context():
        email = db.session.get(OutboundEmail, email_id)
        email.reply_to, email.attempts = "help@saas.test", 3
        email.status, email.last_error = "failed", "PermanentError: SMTP 550: No such user here"
        db.session.commit()
        created = int(email.created_at.timestamp())
    page = auth.client.get(f"/admin/emails/{email_id}").get_data(as_text=True)
    for header in (
        "<dt>To</dt><dd>ada@example.com</dd>",
        "<dt>Reply-To</dt><dd>help@saas.test</dd>",
        "<dt>Subject</dt><dd>Reset your SaaS password</dd>",
        f"<dt>Message-ID</dt><dd>&lt;outbox.{email_id}.{created}@saas.test&gt;</dd>",
        "<dt>Attempts</dt><dd>3</dd>",
    ):
        assert header in page
    assert "SMTP 550: No such user here" in page
    assert "The link works once and expires in 2 hours." in page  # the text part, rendered
    assert "[one-time link, not shown]" in page and "secret-token-123" not in page
    assert f"Retry email {email_id}" in page and f"Discard email {email_id}" in page
    assert auth.client.get("/admin/emails/999").status_code == 404


def test_a_failed_email_retried_from_the_console_reaches_the_mailbox(
    app, auth, mailbox, run_queued_tasks
):
    log_in_admin(app, auth)
    email_id = failed_send(app, mailbox, run_queued_tasks)
    assert "SMTP 550" in email_row(app, email_id).last_error
    mailbox.rejected.clear()
    response = auth.post(f"/admin/emails/{email_id}/retry", token_from=f"/admin/emails/{email_id}")
    assert (response.status_code, response.headers["Location"]) == (
        303,
        f"/admin/emails/{email_id}",
    )
    assert run_queued_tasks() == 1
    [message] = mailbox.wait_for(1)
    assert message["To"] == "ada@example.com" and "password" in text_body(message)
    email = email_row(app, email_id)
    assert (email.status, email.attempts, email.last_error) == ("sent", 1, None)
    assert audit(app) == [
        (
            "email.retry",
            str(email_id),
            "done",
            f"Email {email_id} to ada@example.com queued again; a worker will send it.",
        )
    ]
    page = auth.client.get(f"/admin/emails/{email_id}").get_data(as_text=True)
    assert 'data-testid="audit-trail"' in page and "email.retry" in page


def test_retrying_a_sent_email_or_an_unknown_one_is_refused_and_audited(
    app, auth, mailbox, run_queued_tasks
):
    log_in_admin(app, auth)
    email_id = add_email(app)
    run_queued_tasks()
    mailbox.wait_for(1)
    for action in ("retry", "discard"):
        response = auth.post(f"/admin/emails/{email_id}/{action}", token_from="/admin/emails")
        assert response.status_code == 303
    page = auth.client.get(f"/admin/emails/{email_id}").get_data(as_text=True)
    assert f"Email {email_id} is sent: only a failed email is retried." in page
    assert f"Retry email {email_id}" not in page and f"Discard email {email_id}" not in page
    assert auth.post("/admin/emails/999/retry", token_from="/admin/emails").status_code == 404
    assert audit(app) == [
        (
            "email.retry",
            str(email_id),
            "refused",
            f"Email {email_id} is sent: only a failed email is retried.",
        ),
        (
            "email.discard",
            str(email_id),
            "refused",
            f"Email {email_id} is sent: only a failed or waiting email is discarded.",
        ),
        ("email.retry", "999", "refused", "No email has id 999."),
    ]
    assert email_row(app, email_id).status == "sent"
    assert len(mailbox.messages) == 1


def test_a_discarded_email_is_never_sent(app, auth, mailbox, run_queued_tasks):
    log_in_admin(app, auth)
    email_id = add_email(app)  # its delivery task is queued
    response = auth.post(f"/admin/emails/{email_id}/discard", token_from="/admin/emails")
    assert response.status_code == 303
    assert run_queued_tasks() == 1  # the task runs and finds nothing to claim
    with app.app_context():
        assert services.sweep() == {"requeued": 0, "reclaimed": 0, "failed": 0}  # final
    email = email_row(app, email_id)
    assert (email.status, email.attempts, email.sent_at) == ("discarded", 0, None)
    assert mailbox.messages == []
    assert audit(app)[-1][:3] == ("email.discard", str(email_id), "done")


def test_retrying_every_failed_email_needs_the_typed_confirmation(
    app, auth, mailbox, run_queued_tasks
):
    log_in_admin(app, auth)
    failed = [
        failed_send(app, mailbox, run_queued_tasks, to) for to in ("a@example.com", "b@example.com")
    ]
    mailbox.rejected.clear()
    page = auth.client.get("/admin/emails").get_data(as_text=True)
    assert "Retry all 2 failed emails" in page
    for typed in ({}, {"confirm": "yes"}):
        response = auth.post("/admin/emails/retry-failed", typed, token_from="/admin/emails")
        assert (response.status_code, response.headers["Location"]) == (303, "/admin/emails")
    assert [email_row(app, i).status for i in failed] == ["failed", "failed"]
    assert run_queued_tasks() == 0
    response = auth.post(
        "/admin/emails/retry-failed", {"confirm": "retry all"}, token_from="/admin/emails"
    )
    assert response.status_code == 303
    assert run_queued_tasks() == 2
    assert sorted(m["To"] for m in mailbox.wait_for(2)) == ["a@example.com", "b@example.com"]
    assert [email_row(app, i).status for i in failed] == ["sent", "sent"]
    refusal = 'Type "retry all" to confirm retrying every failed email.'
    assert audit(app) == [
        ("email.retry_failed", None, "refused", refusal),
        ("email.retry_failed", None, "refused", refusal),
        ("email.retry_failed", None, "done", "2 failed email(s) queued again."),
    ]


@pytest.mark.app_config(MAIL_SERVER="")
def test_the_eml_file_is_readable_on_the_embedded_default(app, auth, run_queued_tasks, tmp_path):
    log_in_admin(app, auth)
    email_id = add_email(app, template="password_reset", reset_link=RESET_LINK, valid_hours=1)
    other = add_email(app, to="bob@example.com")
    assert run_queued_tasks() == 2
    page = auth.client.get(f"/admin/emails/{email_id}").get_data(as_text=True)
    eml = page.split('data-testid="eml"')[1].split("</section>")[0]
    message_id = email_row(app, email_id).message_id
    assert f"Message-ID: {message_id}".replace("<", "&lt;").replace(">", "&gt;") in eml
    assert "[text/plain]" in eml and "[text/html]" in eml
    assert "expires in 1 hour." in eml
    assert "[one-time link, not shown]" in eml and "secret-token-123" not in page

    # A file that resolves outside MAIL_FILE_DIR is not read, whatever it is named.
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the mail folder")
    path = eml_path(Path(app.config["MAIL_FILE_DIR"]), email_row(app, other).message_id)
    path.unlink()
    path.symlink_to(secret)
    page = auth.client.get(f"/admin/emails/{other}").get_data(as_text=True)
    assert 'data-testid="eml"' not in page and "outside the mail folder" not in page
