"""Request size limits: refused with 413 before the body is read, nothing stored."""

import io

from werkzeug import Request
from werkzeug.test import EnvironBuilder

from saas.billing.models import StripeEvent
from saas.contact.models import ContactMessage
from saas.extensions import db

CAP = 256 * 1024


class Untouchable(io.RawIOBase):
    """A body that fails the test if more than `limit` bytes of it are read."""

    def __init__(self, limit: int):
        self.limit, self.read_so_far = limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self.read_so_far += len(buffer)
        assert self.read_so_far <= self.limit, "read past the cap"
        buffer[:] = b"x" * len(buffer)
        return len(buffer)


def _webhook(client, body, content_length: int | None):
    """POST the body to the webhook, with that Content-Length or chunked (none)."""
    environ = EnvironBuilder(
        path="/billing/webhook",
        method="POST",
        headers={"Stripe-Signature": "t=1,v1=bogus", "Content-Type": "application/json"},
    ).get_environ()
    environ["wsgi.input"] = body
    if content_length is None:
        environ.pop("CONTENT_LENGTH", None)
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["wsgi.input_terminated"] = True
    else:
        environ["CONTENT_LENGTH"] = str(content_length)
    return client.open(Request(environ))


def _count(app, model) -> int:
    with app.app_context():
        return db.session.execute(db.select(db.func.count()).select_from(model)).scalar_one()


def test_a_2_mib_contact_form_is_413_and_stores_nothing(client, app):
    response = client.post(
        "/contact",
        data={"name": "Big", "email": "big@example.com", "message": "x" * (2 * 1024 * 1024)},
    )
    assert response.status_code == 413
    assert b"Request too large" in response.data
    assert _count(app, ContactMessage) == 0


def test_an_oversized_webhook_is_refused_from_content_length_without_reading(client, app):
    body = Untouchable(limit=0)
    response = _webhook(client, body, 300 * 1024)
    assert response.status_code == 413
    assert response.json == {"error": "The request body is too large."}
    assert body.read_so_far == 0
    assert _count(app, StripeEvent) == 0


def test_a_webhook_over_the_app_limit_is_413_json_too(client, app):
    body = Untouchable(limit=0)
    response = _webhook(client, body, 300 * 1024 * 1024)
    assert response.status_code == 413
    assert response.is_json
    assert body.read_so_far == 0


def test_a_chunked_webhook_over_the_cap_is_cut_off_at_the_cap(client, app):
    body = Untouchable(limit=CAP + 1)
    response = _webhook(client, body, None)
    assert response.status_code == 413
    assert 0 < body.read_so_far <= CAP + 1
    assert _count(app, StripeEvent) == 0
