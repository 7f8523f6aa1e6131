"""The web with Redis unreachable (issue 11): the rate limits go on in this process's memory, the
tasks that cannot be queued are left to the sweep, and the contact form, signup and the Stripe
webhook answer as usual with what they accepted stored. In process, with REDIS_URL pointing at a
port where nothing listens (on either backend)."""

import time

import pytest

from saas import create_app
from saas.auth.models import User
from saas.billing.models import StripeEvent
from saas.contact.models import ContactMessage
from saas.extensions import db
from saas.mail.models import OutboundEmail
from tests.support.auth import AuthActions
from tests.support.fake_stripe import WEBHOOK_SECRET, signed_event

DEAD_REDIS = "redis://127.0.0.1:1/0"
GOOD = {"name": "Ada Lovelace", "email": "ada@example.com", "message": "Hello while Redis is down"}


@pytest.fixture
def down_app(app_env, monkeypatch):
    for name, value in {
        "REDIS_URL": DEAD_REDIS,
        "STRIPE_SECRET_KEY": "sk_test_fake",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": "http://127.0.0.1:1",
    }.items():
        monkeypatch.setenv(name, value)
    app = create_app({"TESTING": True})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def rows(app, model) -> list:
    with app.app_context():
        return db.session.execute(db.select(model)).scalars().all()


def test_contact_is_accepted_stored_and_still_limited_in_memory(down_app):
    auth = AuthActions(down_app.test_client())
    started = time.monotonic()
    response = auth.post("/contact", GOOD, token_from="/contact")
    assert response.status_code == 303
    assert time.monotonic() - started < 5  # Redis fails fast, the request does not hang
    [message] = rows(down_app, ContactMessage)
    assert message.email == "ada@example.com"
    emails = rows(down_app, OutboundEmail)
    assert sorted(e.status for e in emails) == ["queued", "queued"]  # for the sweep to send
    # The per-visitor limit (1 per 10 seconds) still holds, counted in this process's memory.
    assert auth.post("/contact", GOOD, token_from="/contact").status_code == 429
    assert len(rows(down_app, ContactMessage)) == 1


def test_signup_answers_as_usual(down_app):
    response = AuthActions(down_app.test_client()).signup("new@example.com")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert [user.email for user in rows(down_app, User)] == ["new@example.com"]


def test_the_stripe_webhook_stores_the_event_and_answers_200(down_app):
    body, headers = signed_event("customer.subscription.updated", {"id": "sub_1"}, event_id="evt_1")
    response = down_app.test_client().post("/billing/webhook", data=body, headers=headers)
    assert response.status_code == 200
    [event] = rows(down_app, StripeEvent)
    assert (event.stripe_event_id, event.status) == ("evt_1", "received")
