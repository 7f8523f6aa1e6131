"""Malformed input an attacker sends: signed webhooks that are not events are kept once as
`invalid` and answered 400; a NUL byte in a path is 404 on every dynamic route."""

import hashlib
import json
import time

import pytest
import stripe

from saas.billing.models import StripeEvent, StripeEventStatus
from saas.extensions import db
from tests.support.accounts import make_user
from tests.support.fake_stripe import WEBHOOK_SECRET

MALFORMED = {
    "a JSON list": "[1, 2, 3]",
    "no id or type": json.dumps({"object": "event", "data": {"object": {}}}),
    "data.object a string": json.dumps(
        {"id": "evt_string_object", "type": "invoice.paid", "data": {"object": "in_1"}}
    ),
    "an id that is a number": json.dumps({"id": 7, "type": "x", "data": {"object": {}}}),
    "not JSON at all": "hello, not json",
    "nested too deep to parse": "[" * 100_000,
}


def _signed(body: str) -> dict:
    header = stripe.WebhookSignature.generate_signature_header(
        body, WEBHOOK_SECRET, int(time.time())
    )
    return {"Stripe-Signature": header, "Content-Type": "application/json"}


def _events(app) -> list[StripeEvent]:
    with app.app_context():
        return db.session.execute(db.select(StripeEvent)).scalars().all()


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_signed_malformed_webhook_is_stored_once_as_invalid_and_answered_400(app, client, body):
    for _ in range(2):
        response = client.post("/billing/webhook", data=body, headers=_signed(body))
        assert response.status_code == 400
        assert response.is_json
    [event] = _events(app)
    assert (event.status, event.type) == (StripeEventStatus.INVALID, "unknown")
    assert event.enqueued_at is None
    parsed = json.loads(body) if body.startswith(("{", "[1")) else None
    if isinstance(parsed, dict):
        assert event.payload == parsed
    else:
        assert event.payload == {"raw": body}
    if isinstance(parsed, dict) and isinstance(parsed.get("id"), str):
        assert event.stripe_event_id == parsed["id"]
    else:
        assert event.stripe_event_id == "invalid:" + hashlib.sha256(body.encode()).hexdigest()


def test_an_unsigned_malformed_webhook_is_400_and_not_stored(app, client):
    response = client.post("/billing/webhook", data="[1]", headers={"Stripe-Signature": "t=1,v1=x"})
    assert response.status_code == 400
    assert _events(app) == []


def _dynamic_paths(app) -> list[tuple[str, str]]:
    """(method, path) of every route with an argument, each argument a NUL byte."""
    paths = []
    for rule in app.url_map.iter_rules():
        if not rule.arguments or rule.endpoint == "static":
            continue
        path = rule.rule
        for argument in rule.arguments:
            path = path.replace(f"<{argument}>", "%00")
        paths += [(method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return paths


def test_the_dynamic_routes_are_the_expected_ones(app):
    paths = {path for _method, path in _dynamic_paths(app)}
    assert {"/reports/%00", "/password/reset/%00", "/admin/jobs/%00/run"} <= paths


@pytest.mark.parametrize("who", ["anonymous", "customer", "admin"])
def test_a_nul_byte_in_any_dynamic_path_is_404(app, client, auth, who):
    if who != "anonymous":
        make_user(app, f"{who}@example.com", role="admin" if who == "admin" else "member")
        assert auth.login(f"{who}@example.com", "customer-password").status_code == 303
    for method, path in [*_dynamic_paths(app), ("GET", "/%00"), ("POST", "/%00")]:
        response = client.open(path, method=method)
        assert response.status_code == 404, (method, path, response.status_code)
