"""Issue 12, item 5: the contact form's acknowledgement is no relay for a visitor's words, and
one address receives at most CONTACT_ACK_LIMIT_PER_RECIPIENT of them, however it is spelled."""

import pytest

from saas import create_app
from saas.contact.models import ContactMessage
from saas.extensions import db, huey, limiter
from saas.mail.models import OutboundEmail
from tests.support.auth import AuthActions
from tests.support.smtp import text_body

PHISHING = {
    "name": "PayPal Security: verify at https://paypa1-login.example/verify",
    "message": "Your account is suspended. Log in within 24 h at https://paypa1-login.example/x",
}
# The per-visitor and per-IP limits would refuse a quick series from one client first.
FAST_FORMS = {
    "CONTACT_LIMIT_PER_VISITOR": "100 per minute",
    "CONTACT_LIMIT_PER_IP": "100 per minute",
}
ONE_A_DAY = {"CONTACT_ACK_LIMIT_PER_RECIPIENT": "1 per day"}


def submit(auth, email: str, **fields):
    data = {"name": "Ada", "message": "Hello", **fields, "email": email}
    response = auth.post("/contact", data, token_from="/contact")
    assert response.status_code == 303
    return response


def rows(app, model):
    with app.app_context():
        return db.session.execute(db.select(model).order_by(model.id)).scalars().all()


def queued(app) -> list[tuple[str, str]]:
    return [(e.template, e.to_address) for e in rows(app, OutboundEmail)]


def full_text(message) -> str:
    return message["Subject"] + text_body(message) + message.get_body(("html",)).get_content()


@pytest.mark.app_config(**FAST_FORMS)
def test_the_acknowledgement_quotes_nothing_the_visitor_typed(app, auth, mailbox, run_queued_tasks):
    submit(auth, "victim@example.com", **PHISHING)
    assert run_queued_tasks() == 2
    by_recipient = {m["To"]: m for m in mailbox.wait_for(2)}
    acknowledgement, to_us = by_recipient["victim@example.com"], by_recipient["support@saas.test"]
    assert acknowledgement["Subject"] == "We received your message"
    assert "we received your message" in text_body(acknowledgement)
    for typed in ("PayPal", "paypa1-login.example", "suspended", "https://"):
        assert typed not in full_text(acknowledgement)
    assert to_us["Reply-To"] == "victim@example.com"
    assert PHISHING["name"] in to_us["Subject"]
    assert PHISHING["message"] in text_body(to_us)
    assert PHISHING["message"] in to_us.get_body(("html",)).get_content()
    [stored] = rows(app, OutboundEmail)[1:]
    # Only the message's id, for the console; the template shows nothing of it.
    assert (stored.template, stored.context) == ("contact_acknowledgement", {"contact_id": 1})


@pytest.mark.app_config(CONTACT_ACK_LIMIT_PER_RECIPIENT="2 per day", **FAST_FORMS)
def test_acknowledgements_stop_at_the_limit_for_every_spelling_of_the_address(
    app, auth, mailbox, run_queued_tasks
):
    submit(auth, "alice@example.com", message="one")
    submit(auth, "Alice@EXAMPLE.com", message="two")
    assert [template for template, _ in queued(app)].count("contact_acknowledgement") == 2
    run_queued_tasks()
    mailbox.wait_for(4)
    for spelling in ("alice@ｅxample.com", "ALICE@example.com"):  # fullwidth e, then case
        submit(auth, spelling, message=f"to {spelling}")
        assert huey.pending_count() == 1  # the email to us, no acknowledgement
        assert queued(app)[-1] == ("contact_message", "support@saas.test")
        assert run_queued_tasks() == 1
    submit(auth, "bob@example.com", message="other")  # another recipient: its own allowance
    assert run_queued_tasks() == 2
    assert [m.message for m in rows(app, ContactMessage)] == [
        "one",
        "two",
        "to alice@ｅxample.com",
        "to ALICE@example.com",
        "other",
    ]
    delivered = mailbox.wait_for(8)
    to_us = [m for m in delivered if m["To"] == "support@saas.test"]
    assert [m["Reply-To"] for m in to_us] == [
        "alice@example.com",
        "Alice@EXAMPLE.com",
        "alice@example.com",  # the fullwidth domain, IDNA-encoded on the way out
        "ALICE@example.com",
        "bob@example.com",
    ]
    acknowledged = [m["To"] for m in delivered if m["To"] != "support@saas.test"]
    assert acknowledged == ["alice@example.com", "Alice@EXAMPLE.com", "bob@example.com"]
    assert {e.status for e in rows(app, OutboundEmail)} == {"sent"}


@pytest.mark.app_config(**ONE_A_DAY, **FAST_FORMS)
def test_the_allowance_is_kept_in_the_storage_every_web_process_shares(app, auth):
    submit(auth, "dave@example.com", message="to the first process")
    other_process = create_app({"TESTING": True, **ONE_A_DAY, **FAST_FORMS})
    try:
        submit(AuthActions(other_process.test_client()), "DAVE@example.com", message="second")
    finally:
        with other_process.app_context():
            db.session.remove()
            db.engine.dispose()
    assert queued(app) == [
        ("contact_message", "support@saas.test"),
        ("contact_acknowledgement", "dave@example.com"),
        ("contact_message", "support@saas.test"),
    ]


@pytest.mark.app_config(**ONE_A_DAY, **FAST_FORMS)
def test_a_storage_error_falls_back_to_memory_where_the_limit_still_holds(
    app, auth, mailbox, run_queued_tasks, monkeypatch
):
    def storage_down(*args, **kwargs):
        raise ConnectionError("rate limit storage unreachable")

    monkeypatch.setattr(limiter.limiter, "hit", storage_down)  # the SQLite file's way
    storage = limiter.limiter.storage
    if hasattr(storage, "get_connection"):  # Redis: the one script Limiter.take runs
        monkeypatch.setattr(storage, "get_connection", storage_down)
    submit(auth, "carol@example.com", message="one")
    submit(auth, "Carol@example.com", message="two")
    assert queued(app) == [
        ("contact_message", "support@saas.test"),
        ("contact_acknowledgement", "carol@example.com"),
        ("contact_message", "support@saas.test"),
    ]
    assert [m.message for m in rows(app, ContactMessage)] == ["one", "two"]
    assert run_queued_tasks() == 3
    assert len(mailbox.wait_for(3)) == 3
