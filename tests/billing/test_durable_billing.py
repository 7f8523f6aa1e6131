"""Stripe events and card syncs through the durable-work lifecycle, with the real consumer: a
worker killed mid-work, a task the queue lost, a redelivery of an event never processed. Each
row finishes exactly once afterwards, and its effect is there once."""

import json
import signal
import threading

import pytest
from werkzeug import Response

from saas.billing.models import BillingCustomer, Card, StripeEvent, Subscription
from saas.extensions import huey
from saas.jobs import lifecycle
from tests.billing.test_stripe import deliver, rows, subscribed
from tests.support.fake_stripe import (
    CUSTOMER,
    SUBSCRIPTION,
    customer_with_card,
    signed_event,
    subscription,
)
from tests.support.waiting import wait_until

# The worker's Stripe calls may wait on the stalled fake; its leases are short, so the sweep
# may take back what a killed worker held within seconds.
WORKER_ENV = {"STRIPE_TIMEOUT": "60", "STRIPE_LEASE": "2"}


def stall_first_call(stripe_api, method: str, path: str, body: dict):
    """The first call to `path` hangs until the returned event is set; later calls answer."""
    entered, release = threading.Event(), threading.Event()

    def handler(request):
        if not entered.is_set():
            entered.set()
            release.wait(30)
        return Response(json.dumps(body), status=200, content_type="application/json")

    stripe_api.server.expect_request(path, method=method).respond_with_handler(handler)
    return entered, release


def queue_down(task):
    raise ConnectionError("the queue is unreachable")


def kill(worker) -> None:
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)


def sweep(app) -> dict:
    with app.app_context():
        return lifecycle.sweep_all()


def the_event(app) -> StripeEvent:
    [event] = rows(app, StripeEvent)
    return event


def test_an_event_left_processing_by_a_killed_worker_is_processed_once_after_the_sweep(
    app, auth, client, stripe_api, start_worker
):
    subscribed(auth, stripe_api)
    stripe_api.server.clear_all_handlers()
    entered, release = stall_first_call(
        stripe_api, "GET", f"/v1/subscriptions/{SUBSCRIPTION}", subscription()
    )
    worker = start_worker(**WORKER_ENV)
    assert deliver(client, "customer.subscription.updated", {"id": SUBSCRIPTION}).status_code == 200
    assert entered.wait(30)  # the worker is inside the handler, waiting on Stripe
    kill(worker)
    release.set()
    assert (the_event(app).status, the_event(app).attempts) == ("processing", 1)
    assert rows(app, Subscription) == []

    start_worker(**WORKER_ENV)
    wait_until(lambda: sweep(app)["stripe_event"]["reclaimed"] == 1, timeout=15)
    wait_until(lambda: the_event(app).status == "processed")
    event = the_event(app)
    assert (event.attempts, event.error, event.lease_expires_at) == (2, None, None)
    [local] = rows(app, Subscription)
    assert local.status == "active"


@pytest.mark.app_config(SWEEP_GRACE=0)
def test_an_event_stored_but_never_enqueued_is_processed_after_the_sweep_or_a_redelivery(
    app, auth, client, stripe_api, start_worker, monkeypatch
):
    subscribed(auth, stripe_api)
    # The first event's task is lost (what a failed enqueue after commit or a FLUSHALL does).
    body, headers = signed_event("customer.subscription.updated", {"id": SUBSCRIPTION})
    assert client.post("/billing/webhook", data=body, headers=headers).status_code == 200
    huey.flush()
    assert the_event(app).status == "received"
    start_worker(**WORKER_ENV)

    # Stripe redelivers it (we answered 200, but it retries on its own schedule too).
    again = client.post("/billing/webhook", data=body, headers=headers)
    assert again.get_json() == {"received": True, "duplicate": True}
    wait_until(lambda: the_event(app).status == "processed")
    assert the_event(app).attempts == 1

    # A second event whose enqueue after commit fails (the queue is down), never redelivered:
    # the sweep finds it.
    with monkeypatch.context() as patch:
        patch.setattr(huey, "enqueue", queue_down)
        created = deliver(client, "customer.subscription.created", {"id": SUBSCRIPTION})
    assert created.get_json() == {"received": True, "duplicate": False}
    assert sweep(app)["stripe_event"]["requeued"] == 1
    wait_until(lambda: {e.status for e in rows(app, StripeEvent)} == {"processed"})
    assert [e.attempts for e in rows(app, StripeEvent)] == [1, 1]
    assert len(rows(app, Subscription)) == 1


@pytest.mark.app_config(SWEEP_GRACE=0)
def test_a_card_sync_left_pending_by_a_lost_task_completes_after_the_sweep(
    app, auth, stripe_api, start_worker
):
    subscribed(auth, stripe_api)
    auth.post("/billing/card/refresh", token_from="/billing")
    huey.flush()  # its task is gone
    assert auth.client.get("/billing/card/status").get_json()["sync"] == "pending"
    start_worker(**WORKER_ENV)
    assert sweep(app)["card_sync"]["requeued"] == 1
    wait_until(lambda: auth.client.get("/billing/card/status").get_json()["sync"] is None)
    status = auth.client.get("/billing/card/status").get_json()
    assert status["card"]["last4"] == "4242"
    [customer] = rows(app, BillingCustomer)
    assert (customer.card_sync_status, customer.card_sync_attempts) == ("synced", 1)


def test_a_card_sync_whose_worker_is_killed_completes_once_after_the_sweep(
    app, auth, stripe_api, start_worker
):
    subscribed(auth, stripe_api)
    stripe_api.server.clear_all_handlers()
    entered, release = stall_first_call(
        stripe_api, "GET", f"/v1/customers/{CUSTOMER}", customer_with_card("5555", 8, 2031)
    )
    worker = start_worker(**WORKER_ENV)
    auth.post("/billing/card/refresh", token_from="/billing")
    assert entered.wait(30)
    kill(worker)
    release.set()
    [customer] = rows(app, BillingCustomer)
    assert customer.card_sync_status == "syncing"

    start_worker(**WORKER_ENV)
    wait_until(lambda: sweep(app)["card_sync"]["reclaimed"] == 1, timeout=15)
    wait_until(lambda: rows(app, BillingCustomer)[0].card_sync_status == "synced")
    [customer] = rows(app, BillingCustomer)
    assert customer.card_sync_attempts == 2
    [card] = rows(app, Card)
    assert (card.last4, card.exp_month, card.exp_year) == ("5555", 8, 2031)
    page = auth.client.get("/billing").get_data(as_text=True)
    assert "visa ending 5555" in page and "Updating card details..." not in page
