"""Billing against a local fake of Stripe's API (the real SDK, STRIPE_API_BASE), with webhook
events signed by the real algorithm."""

import json
import time
from datetime import UTC, datetime

import pytest

from saas.billing import stripe_api as stripe_module
from saas.billing.models import (
    BillingCustomer,
    Card,
    Invoice,
    StripeEvent,
    Subscription,
    retry_policy,
)
from saas.billing.tasks import process_stripe_event, sync_card
from saas.extensions import db, huey
from saas.jobs.retry import PermanentError
from tests.support.accounts import months_ahead
from tests.support.fake_stripe import (
    CUSTOMER,
    SUBSCRIPTION,
    customer_with_card,
    invoice,
    signed_event,
    stripe_error,
    subscription,
)
from tests.support.waiting import wait_until


def rows(app, model):
    with app.app_context():
        return db.session.execute(db.select(model)).scalars().all()


def subscribed(auth, stripe_api) -> None:
    """A customer who went through Checkout (the customer exists on Stripe and locally)."""
    stripe_api.standard()
    auth.signup()
    auth.login()
    response = auth.post("/billing/checkout", {"plan": "pro"}, token_from="/pricing")
    assert response.status_code == 303


def deliver(client, event_type: str, obj: dict, **options):
    body, headers = signed_event(event_type, obj, **options)
    return client.post("/billing/webhook", data=body, headers=headers)


@pytest.mark.app_config(STRIPE_SECRET_KEY=None, STRIPE_WEBHOOK_SECRET=None)
def test_without_stripe_keys_the_billing_pages_say_what_to_set(app, auth, client):
    auth.signup()
    auth.login()
    page = auth.client.get("/billing").get_data(as_text=True)
    assert "Stripe is not configured" in page and "STRIPE_SECRET_KEY" in page
    response = auth.post("/billing/checkout", {"plan": "pro"}, token_from="/pricing")
    assert response.status_code == 303
    assert "Stripe is not configured" in auth.client.get("/billing").get_data(as_text=True)
    assert client.post("/billing/webhook", data="{}").status_code == 400


def test_pricing_shows_the_plans_and_checkout_redirects_to_stripe(app, auth, stripe_api):
    stripe_api.standard()
    assert "Subscribe" not in auth.client.get("/pricing").get_data(as_text=True)
    auth.signup()
    auth.login()
    pricing = auth.client.get("/pricing").get_data(as_text=True)
    assert "Subscribe to Pro" in pricing and "$19" in pricing and "Subscribe to Team" in pricing

    for _ in range(2):
        response = auth.post("/billing/checkout", {"plan": "pro"}, token_from="/pricing")
        assert response.status_code == 303
        assert response.headers["Location"] == "https://checkout.stripe.com/c/pay/cs_test_1"
    assert len(stripe_api.calls("POST", "/v1/customers")) == 1  # one Stripe customer per user
    sent = stripe_api.calls("POST", "/v1/checkout/sessions")[0].form
    assert sent["mode"] == "subscription"
    assert sent["line_items[0][price]"] == "price_pro_monthly"
    assert sent["customer"] == CUSTOMER
    [customer] = rows(app, BillingCustomer)
    assert sent["client_reference_id"] == str(customer.user_id)


def test_checkout_refuses_an_unknown_plan_and_survives_a_stripe_error(app, auth, stripe_api):
    auth.signup()
    auth.login()
    assert (
        auth.post("/billing/checkout", {"plan": "gold"}, token_from="/pricing").status_code == 400
    )
    stripe_api.on(
        "POST", "/v1/customers", stripe_error(500, "Stripe is having a bad day", "api_error")
    )
    response = auth.post("/billing/checkout", {"plan": "pro"}, token_from="/pricing")
    assert response.headers["Location"].endswith("/billing")
    assert "Stripe could not be reached" in auth.client.get("/billing").get_data(as_text=True)
    assert rows(app, BillingCustomer) == []


def test_webhook_signatures_and_redelivery(app, client, run_queued_tasks):
    obj = {"id": "prod_1", "object": "product"}
    body, headers = signed_event("product.created", obj, event_id="evt_once")
    first = client.post("/billing/webhook", data=body, headers=headers)
    assert (first.status_code, first.get_json()["duplicate"]) == (200, False)
    # Redelivered before it was processed: queued again (its first task may be lost).
    again = client.post("/billing/webhook", data=body, headers=headers)
    assert (again.status_code, again.get_json()["duplicate"]) == (200, True)
    assert huey.pending_count() == 2
    run_queued_tasks()
    [event] = rows(app, StripeEvent)
    assert (event.status, event.attempts) == ("ignored", 1)  # processed once
    late = client.post("/billing/webhook", data=body, headers=headers)
    assert (late.status_code, late.get_json()["duplicate"]) == (200, True)
    assert huey.pending_count() == 0  # processed already: nothing to queue

    tampered = body.replace("prod_1", "prod_2")
    assert client.post("/billing/webhook", data=tampered, headers=headers).status_code == 400
    assert deliver(client, "product.created", obj, age=600).status_code == 400  # stale
    unsigned = client.post(
        "/billing/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 400
    assert [e.stripe_event_id for e in rows(app, StripeEvent)] == ["evt_once"]


def test_an_unknown_event_type_is_recorded_and_ignored(app, client, run_queued_tasks):
    deliver(client, "product.created", {"id": "prod_1", "object": "product"})
    assert run_queued_tasks() == 1
    [event] = rows(app, StripeEvent)
    assert (event.type, event.status) == ("product.created", "ignored")


def test_subscription_events_out_of_order_end_in_stripes_current_state(
    app, auth, client, stripe_api, run_queued_tasks
):
    subscribed(auth, stripe_api)
    # Stripe says the subscription is canceled now; the "created" event arrives last.
    stripe_api.server.clear_all_handlers()
    stripe_api.on("GET", f"/v1/subscriptions/{SUBSCRIPTION}", subscription(status="canceled"))
    deliver(client, "customer.subscription.deleted", {"id": SUBSCRIPTION})
    deliver(client, "customer.subscription.updated", {"id": SUBSCRIPTION})
    deliver(client, "customer.subscription.created", {"id": SUBSCRIPTION})
    run_queued_tasks()
    [local] = rows(app, Subscription)
    assert (local.status, local.plan) == ("canceled", "pro")
    assert {e.status for e in rows(app, StripeEvent)} == {"processed"}


def test_card_sync_honours_retry_after_on_429_and_retries_500(
    app, auth, stripe_api, run_queued_tasks
):
    subscribed(auth, stripe_api)
    stripe_api.server.clear_all_handlers()
    stripe_api.on(
        "GET",
        f"/v1/customers/{CUSTOMER}",
        stripe_error(429, "Too many requests", "rate_limit_error", **{"Retry-After": "30"}),
    )
    auth.post("/billing/card/refresh", token_from="/billing")
    assert "Updating card details..." in auth.client.get("/billing").get_data(as_text=True)
    run_queued_tasks()
    [customer] = rows(app, BillingCustomer)
    assert (customer.card_sync_status, customer.card_sync_attempts) == ("retrying", 1)
    [retry] = huey.scheduled()
    assert retry.args == (customer.id,)
    assert (retry.eta.replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds() >= 28
    assert "Updating card details..." in auth.client.get("/billing").get_data(as_text=True)

    error = stripe_module.StripeTransientError("429", retry_after=30)
    with app.app_context():
        assert all(retry_policy().retry_delay(1, error) >= 30 for _ in range(20))

    huey.flush()  # then Stripe answers 500: retried too, with the ordinary backoff
    stripe_api.server.clear_all_handlers()
    stripe_api.on("GET", f"/v1/customers/{CUSTOMER}", stripe_error(500, "Oops", "api_error"))
    with app.app_context():
        sync_card.call_local(customer.id)  # what the worker does when the delay is up
    run_queued_tasks()  # the consumer puts a task whose time has not come on the schedule
    [retry] = huey.scheduled()
    assert retry.args == (customer.id,)
    [customer] = rows(app, BillingCustomer)
    assert (customer.card_sync_status, customer.card_sync_attempts) == ("retrying", 2)


def test_card_sync_fails_at_once_on_a_4xx(app, auth, stripe_api, run_queued_tasks):
    subscribed(auth, stripe_api)
    stripe_api.server.clear_all_handlers()
    stripe_api.on("GET", f"/v1/customers/{CUSTOMER}", stripe_error(404, "No such customer"))
    auth.post("/billing/card/refresh", token_from="/billing")
    run_queued_tasks()
    assert huey.scheduled() == []
    [customer] = rows(app, BillingCustomer)
    assert customer.card_sync_status == "failed" and "No such customer" in customer.card_sync_error


def test_a_stripe_timeout_is_retried(app, auth, stripe_api, run_queued_tasks):
    subscribed(auth, stripe_api)
    stripe_api.server.clear_all_handlers()

    def slow(request):
        time.sleep(1.5)  # STRIPE_TIMEOUT is 1 s in these tests
        from werkzeug import Response  # noqa: PLC0415

        return Response(
            json.dumps(customer_with_card("4242", 1, 2031)), content_type="application/json"
        )

    stripe_api.server.expect_request(f"/v1/customers/{CUSTOMER}").respond_with_handler(slow)
    auth.post("/billing/card/refresh", token_from="/billing")
    run_queued_tasks()
    assert len(huey.scheduled()) == 1


def test_payment_failed_emails_once_shows_a_banner_and_paid_clears_it(
    app, auth, stripe_api, run_queued_tasks, mailbox
):
    subscribed(auth, stripe_api)
    run_queued_tasks()  # the sign-up's verification email, and the card sync
    mailbox.wait_for(1)
    mailbox.clear()
    stripe_api.server.clear_all_handlers()
    stripe_api.on("GET", "/v1/invoices/in_0001", invoice("in_0001", "open"))
    stripe_api.on("GET", f"/v1/subscriptions/{SUBSCRIPTION}", subscription(status="past_due"))
    for _ in range(2):  # Stripe retries the charge and sends the event again, with a new id
        deliver(auth.client, "invoice.payment_failed", {"id": "in_0001", "object": "invoice"})
    run_queued_tasks()
    [email] = mailbox.wait_for(1)
    assert (
        email["Subject"] == "Your SaaS payment failed"
        and "19.00 USD" in email.get_body().get_content()
    )
    page = auth.client.get("/").get_data(as_text=True)
    assert 'data-testid="payment-failed-banner"' in page and "Update your payment method" in page

    stripe_api.server.clear_all_handlers()
    stripe_api.on("GET", "/v1/invoices/in_0001", invoice("in_0001", "paid"))
    stripe_api.on("GET", f"/v1/subscriptions/{SUBSCRIPTION}", subscription(status="active"))
    deliver(auth.client, "invoice.paid", {"id": "in_0001", "object": "invoice"})
    run_queued_tasks()
    billing = auth.client.get("/billing").get_data(as_text=True)
    assert "payment-failed-banner" not in billing
    assert "INV-0001" in billing and "19.00 USD" in billing and ">paid<" in billing
    assert len(mailbox.messages) == 1
    assert [i.status for i in rows(app, Invoice)] == ["paid"]


def test_paid_features_are_gated_by_an_active_subscription(
    app, auth, client, stripe_api, run_queued_tasks
):
    from flask_login import login_required  # noqa: F401, PLC0415

    from saas.billing.views import subscription_required  # noqa: PLC0415

    @subscription_required
    def paid_feature():
        return "the paid feature"

    app.add_url_rule("/paid-feature", view_func=paid_feature)
    subscribed(auth, stripe_api)
    assert auth.client.get("/paid-feature").headers["Location"].endswith("/pricing")
    deliver(client, "customer.subscription.created", {"id": SUBSCRIPTION})
    run_queued_tasks()
    assert auth.client.get("/paid-feature").get_data(as_text=True) == "the paid feature"


@pytest.mark.usefixtures("fixed_clock")  # here and, through PROBE_FIXED_NOW, in the worker
def test_the_whole_flow_with_the_real_worker(app, auth, client, stripe_api, start_worker):
    """Pricing, Checkout, the completed-session webhook, the subscription on the billing page;
    then the bank replaces the expiring card and the banner goes."""
    month, year = months_ahead(0)
    stripe_api.standard(card=("1111", month, year))
    auth.signup()
    auth.login()
    assert "Subscribe to Pro" in auth.client.get("/pricing").get_data(as_text=True)
    checkout = auth.post("/billing/checkout", {"plan": "pro"}, token_from="/pricing")
    assert checkout.headers["Location"].startswith("https://checkout.stripe.com/")
    start_worker()
    [customer] = rows(app, BillingCustomer)
    session = {
        "id": "cs_test_1",
        "object": "checkout.session",
        "customer": CUSTOMER,
        "subscription": SUBSCRIPTION,
        "client_reference_id": str(customer.user_id),
    }
    assert deliver(client, "checkout.session.completed", session).status_code == 200

    def card_shown(last4: str) -> bool:
        return f"visa ending {last4}" in auth.client.get("/billing").get_data(as_text=True)

    wait_until(lambda: card_shown("1111"))
    billing = auth.client.get("/billing").get_data(as_text=True)
    assert "Pro" in billing and "active" in billing
    assert "Your card ending 1111 expires" in billing  # the banner: it expires this month

    stripe_api.server.clear_all_handlers()
    stripe_api.standard(card=("2222", month, year + 3))
    assert (
        deliver(
            client, "payment_method.automatically_updated", {"id": "pm_2222", "customer": CUSTOMER}
        ).status_code
        == 200
    )
    wait_until(lambda: card_shown("2222"))
    assert 'data-testid="card-expiry-banner"' not in auth.client.get("/").get_data(as_text=True)
    with app.app_context():
        card = db.session.execute(db.select(Card)).scalar_one()
        assert (card.stripe_payment_method_id, card.expiring_soon) == ("pm_2222", False)


def test_a_card_error_from_stripe_is_permanent_and_shown(app, auth, stripe_api):
    auth.signup()
    auth.login()
    stripe_api.on(
        "POST",
        "/v1/customers",
        stripe_error(402, "Your card was declined.", "card_error"),
    )
    response = auth.post("/billing/checkout", {"plan": "pro"}, token_from="/pricing")
    assert response.headers["Location"].endswith("/billing")
    assert "Your card was declined." in auth.client.get("/billing").get_data(as_text=True)
    with app.app_context():
        try:
            stripe_module.create_customer(email="x@example.com", user_id=1)
        except Exception as error:  # noqa: BLE001 - the classification is what is tested
            assert isinstance(error, PermanentError)
            assert str(error).startswith("Stripe 402")
        else:
            raise AssertionError("a 402 must raise")


@pytest.mark.usefixtures("fixed_clock")
def test_the_card_status_endpoint_reports_the_sync(app, auth, stripe_api, run_queued_tasks):
    subscribed(auth, stripe_api)
    auth.post("/billing/card/refresh", token_from="/billing")
    assert auth.client.get("/billing/card/status").get_json() == {"sync": "pending", "card": None}
    run_queued_tasks()
    status = auth.client.get("/billing/card/status").get_json()
    assert status["sync"] is None
    assert status["card"] == {
        "brand": "visa",
        "last4": "4242",
        "expires": "12/2030",
        "expiring_soon": False,
    }


def test_an_event_whose_stripe_call_fails_transiently_is_retried(
    app, auth, stripe_api, run_queued_tasks
):
    subscribed(auth, stripe_api)
    stripe_api.server.clear_all_handlers()
    stripe_api.on(
        "GET", f"/v1/subscriptions/{SUBSCRIPTION}", stripe_error(503, "Busy", "api_error")
    )
    deliver(auth.client, "customer.subscription.updated", {"id": SUBSCRIPTION})
    run_queued_tasks()
    [event] = rows(app, StripeEvent)
    assert (event.status, event.attempts) == ("retrying", 1)
    assert "Stripe 503" in event.error
    [retry] = huey.scheduled()
    assert retry.args == (event.id,)
    stripe_api.server.clear_all_handlers()
    stripe_api.on("GET", f"/v1/subscriptions/{SUBSCRIPTION}", subscription())
    with app.app_context():
        process_stripe_event.call_local(event.id)  # what the worker does when the delay is up
    [event] = rows(app, StripeEvent)
    assert (event.status, event.attempts, event.error) == ("processed", 2, None)
    assert rows(app, Subscription)[0].status == "active"
