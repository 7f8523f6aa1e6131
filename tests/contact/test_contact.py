import pytest

from saas.auth.models import User
from saas.contact.models import ContactMessage
from saas.extensions import db, huey
from saas.mail.models import OutboundEmail
from tests.support.smtp import text_body

GOOD = {"name": "Ada Lovelace", "email": "ada@example.com", "message": "Hello!\nI have a question."}


def rows(app, model):
    with app.app_context():
        return db.session.execute(db.select(model)).scalars().all()


def submit(auth, **fields):
    return auth.post("/contact", {**GOOD, **fields}, token_from="/contact")


def test_contact_answers_at_once_and_the_worker_delivers_both_emails(
    app, auth, mailbox, run_queued_tasks
):
    response = submit(auth)
    assert response.status_code == 303
    assert response.headers["Location"] == "/contact"
    assert "Thanks, we&#39;ll get back to you soon" in auth.client.get("/contact").get_data(
        as_text=True
    )
    [stored] = rows(app, ContactMessage)
    assert (stored.name, stored.email, stored.ip_address) == (
        "Ada Lovelace",
        "ada@example.com",
        "127.0.0.1",
    )
    assert mailbox.messages == []  # nothing is sent inside the request
    assert run_queued_tasks() == 2
    to_us, to_visitor = sorted(mailbox.wait_for(2), key=lambda m: m["To"] != "support@saas.test")
    assert to_us["From"] == "SaaS <no-reply@saas.test>"
    assert to_us["To"] == "support@saas.test"
    assert to_us["Reply-To"] == "ada@example.com"
    assert to_us["Subject"] == "Contact form: Ada Lovelace <ada@example.com>"
    assert "I have a question." in text_body(to_us)
    assert to_us.get_body(preferencelist=("html",)) is not None
    assert to_visitor["To"] == "ada@example.com"
    assert to_visitor["Subject"] == "We received your message"
    acknowledgement = text_body(to_visitor) + to_visitor.get_body(("html",)).get_content()
    assert "we received your message" in acknowledgement
    assert "Ada" not in acknowledgement and "I have a question" not in acknowledgement
    emails = rows(app, OutboundEmail)
    assert {e.status for e in emails} == {"sent"}
    assert {to_us["Message-ID"], to_visitor["Message-ID"]} == {e.message_id for e in emails}


def test_contact_form_is_prefilled_for_a_logged_in_user(auth):
    auth.signup()
    page = auth.client.get("/contact").get_data(as_text=True)
    assert 'value="customer@example.com"' in page


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"name": "Eve\r\nBcc: victim@example.com"}, "Line breaks are not allowed"),
        ({"email": "eve@example.com\nBcc: victim@example.com"}, "Line breaks are not allowed"),
        ({"message": "x" * 5001}, "5000"),
        ({"email": "not an email"}, "Invalid email"),
        ({"message": ""}, "This field is required"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored_or_queued(app, auth, fields, error):
    response = submit(auth, **fields)
    assert response.status_code == 400
    assert error in response.get_data(as_text=True)
    assert rows(app, ContactMessage) == []
    assert rows(app, OutboundEmail) == []
    assert huey.pending_count() == 0


def test_missing_csrf_token_is_refused(app, client):
    response = client.post("/contact", data=GOOD)
    assert response.status_code == 400
    assert rows(app, ContactMessage) == []
    assert huey.pending_count() == 0


def test_honeypot_silently_drops_bots(app, auth):
    response = submit(auth, website="http://spam.example")
    assert response.status_code == 303
    assert rows(app, ContactMessage) == []
    assert huey.pending_count() == 0


def test_second_submission_within_ten_seconds_is_429_from_the_same_ip(auth):
    assert submit(auth).status_code == 303
    response = submit(auth)
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 10


def test_failed_validation_does_not_use_up_the_allowance(auth):
    assert submit(auth, message="").status_code == 400
    assert submit(auth, message="").status_code == 400
    assert submit(auth).status_code == 303


def test_the_limit_follows_the_user_across_addresses(app, auth):
    auth.signup()
    first = submit(auth, message="one")
    assert first.status_code == 303
    token = auth.csrf_token("/contact")
    other_ip = auth.client.post(
        "/contact",
        data={**GOOD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert other_ip.status_code == 429
    assert len(rows(app, ContactMessage)) == 1


@pytest.mark.app_config(CONTACT_LIMIT_PER_IP="2 per minute")
def test_rotating_accounts_from_one_ip_hits_the_per_ip_limit(app, auth):
    for number in range(2):
        auth.signup(email=f"user{number}@example.com")
        assert submit(auth).status_code == 303
        auth.logout()
    auth.signup(email="user9@example.com")
    assert submit(auth).status_code == 429
    assert len(rows(app, User)) == 3
