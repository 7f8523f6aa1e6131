"""/admin/stripe-events over HTTP: the webhook events, filters, an event's page, and reprocessing
a failed event through the lifecycle (refused, and audited, for any other state)."""

import re

import pytest

from saas.admin.models import AuditEntry
from saas.billing.models import BillingCustomer, StripeEvent, Subscription
from saas.extensions import db
from saas.jobs import clock
from tests.admin.test_console import log_in_admin
from tests.support.accounts import make_user
from tests.support.fake_stripe import (
    CUSTOMER,
    SUBSCRIPTION,
    FakeStripe,
    fake_stripe_env,
    signed_event,
    stripe_error,
    subscription,
)

ROW = re.compile(r'data-event="(\d+)"')


@pytest.fixture
def app_env(app_env, httpserver, monkeypatch):
    return fake_stripe_env(app_env, httpserver, monkeypatch)


@pytest.fixture
def stripe_api(httpserver):
    return FakeStripe(httpserver)


def one(app, model):
    with app.app_context():
        return db.session.execute(db.select(model)).scalar_one()


def audit(app) -> list[tuple]:
    with app.app_context():
        entries = db.session.execute(db.select(AuditEntry).order_by(AuditEntry.id)).scalars()
        return [(e.action, e.target_id, e.outcome, e.message) for e in entries]


def listed(auth, query: str = "") -> list[int]:
    response = auth.client.get(f"/admin/stripe-events{query}")
    assert response.status_code == 200
    return [int(event_id) for event_id in ROW.findall(response.get_data(as_text=True))]


def failed_event(app, client, stripe_api, run_queued_tasks) -> StripeEvent:
    """A subscription event whose processing Stripe refused for good (404)."""
    user_id = make_user(app, "customer@example.com")
    with app.app_context():
        db.session.add(BillingCustomer(user_id=user_id, stripe_customer_id=CUSTOMER))
        db.session.commit()
    gone = stripe_error(404, "No such subscription")
    stripe_api.on("GET", f"/v1/subscriptions/{SUBSCRIPTION}", gone)
    body, headers = signed_event("customer.subscription.updated", {"id": SUBSCRIPTION})
    assert client.post("/billing/webhook", data=body, headers=headers).status_code == 200
    assert run_queued_tasks() == 1
    event = one(app, StripeEvent)
    assert (event.status, event.attempts) == ("failed", 1)
    return event


def test_a_failed_event_is_listed_with_its_error_and_reprocessed_from_the_console(
    app, auth, client, stripe_api, run_queued_tasks
):
    log_in_admin(app, auth)
    event = failed_event(app, client, stripe_api, run_queued_tasks)
    page = auth.client.get("/admin/stripe-events").get_data(as_text=True)
    assert "customer.subscription.updated" in page and "No such subscription" in page
    assert f"Reprocess event {event.id}" in page and "status-failed" in page
    detail = auth.client.get(f"/admin/stripe-events/{event.id}").get_data(as_text=True)
    assert "Traceback" in detail and SUBSCRIPTION in detail  # the payload

    stripe_api.server.clear_all_handlers()
    stripe_api.on("GET", f"/v1/subscriptions/{SUBSCRIPTION}", subscription())
    url = f"/admin/stripe-events/{event.id}/reprocess"
    response = auth.post(url, token_from="/admin/stripe-events")
    assert (response.status_code, response.headers["Location"]) == (303, url[: -len("/reprocess")])
    assert run_queued_tasks() == 1
    event = one(app, StripeEvent)
    assert (event.status, event.attempts, event.error) == ("processed", 1, None)
    assert one(app, Subscription).status == "active"

    assert auth.post(url, token_from="/admin/stripe-events").status_code == 303
    assert run_queued_tasks() == 0
    assert auth.post("/admin/stripe-events/999/reprocess", token_from="/").status_code == 404
    queued = f"Stripe event {event.id} (customer.subscription.updated) queued to be processed"
    already = f"Stripe event {event.id} is processed: it was processed already."
    assert audit(app) == [
        ("stripe_event.reprocess", str(event.id), "done", f"{queued} again."),
        (
            "stripe_event.reprocess",
            str(event.id),
            "refused",
            f"{already} Only a failed event is reprocessed.",
        ),
        ("stripe_event.reprocess", "999", "refused", "No Stripe event has id 999."),
    ]
    assert "processed already" in auth.client.get(f"/admin/stripe-events/{event.id}").get_data(
        as_text=True
    )


def test_an_invalid_event_is_never_reprocessed(app, auth):
    log_in_admin(app, auth)
    with app.app_context():
        invalid = StripeEvent(
            stripe_event_id="invalid:abc",
            type="unknown",
            stripe_created_at=clock.now(),
            payload={"raw": "hello"},
            status="invalid",
        )
        db.session.add(invalid)
        db.session.commit()
        event_id = invalid.id
    response = auth.post(f"/admin/stripe-events/{event_id}/reprocess", token_from="/")
    assert response.status_code == 303
    assert one(app, StripeEvent).status == "invalid"
    [(action, target, outcome, message)] = audit(app)
    assert (action, target, outcome) == ("stripe_event.reprocess", str(event_id), "refused")
    assert "never processed" in message


def test_the_events_filter_by_status_and_type_and_refuse_bad_filters(app, auth):
    log_in_admin(app, auth)
    with app.app_context():
        for n, (kind, status) in enumerate(
            [
                ("invoice.paid", "processed"),
                ("invoice.paid", "failed"),
                ("customer.updated", "ignored"),
            ]
        ):
            db.session.add(
                StripeEvent(
                    stripe_event_id=f"evt_{n}",
                    type=kind,
                    stripe_created_at=clock.now(),
                    payload={},
                    status=status,
                )
            )
        db.session.commit()
    assert listed(auth) == [3, 2, 1]
    assert listed(auth, "?type=invoice.paid") == [2, 1]
    assert listed(auth, "?type=invoice.paid&status=failed") == [2]
    assert listed(auth, "?status=ignored") == [3]
    for bad in ("?status=lost", "?type=DROP%20TABLE", "?type=" + "a" * 300, "?before=-1"):
        response = auth.client.get(f"/admin/stripe-events{bad}")
        assert response.status_code == 400, bad
        assert "is not" in response.get_data(as_text=True)
    assert auth.client.get("/admin/stripe-events/999").status_code == 404
