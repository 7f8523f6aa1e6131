"""Worker tasks that talk to Stripe: processing webhook events, syncing the card on file.

Both are safe to run twice and in any order: they act on state fetched from Stripe, not on the
event's copy. Both go through the durable-work lifecycle: claimed, leased, retried with the
shared policy (Stripe's Retry-After honoured) and swept when their task or worker vanished."""

import logging

from saas.auth.models import User
from saas.billing import services, stripe_api
from saas.billing.cards import save_card
from saas.billing.models import (
    CARD_SYNCS,
    STRIPE_EVENTS,
    BillingCustomer,
    CardSyncStatus,
    StripeEvent,
    StripeEventStatus,
)
from saas.database import now_utc
from saas.extensions import db
from saas.jobs import lifecycle
from saas.jobs.retry import PermanentError
from saas.mail import send_email
from saas.urls import absolute_url

log = logging.getLogger(__name__)
PROCESSED, IGNORED = StripeEventStatus.PROCESSED, StripeEventStatus.IGNORED


@lifecycle.durable_task(STRIPE_EVENTS)
def process_stripe_event(event_row_id: int) -> None:
    claimed = lifecycle.claim(STRIPE_EVENTS, event_row_id)
    if claimed is None:
        return  # processed already, or being processed
    event = db.session.get(StripeEvent, event_row_id)
    try:
        with lifecycle.lease_kept(STRIPE_EVENTS, event_row_id):
            status = handle(event)
            db.session.commit()  # effects first: a worker lost after this reprocesses harmlessly
    except Exception as error:
        db.session.rollback()
        failure = lifecycle.fail(STRIPE_EVENTS, event_row_id, claimed.attempts, error)
        log.warning("Stripe event %s failed: %s (now %s)", event_row_id, error, failure.status)
        return
    values = {StripeEvent.processed_at: now_utc(), StripeEvent.error: None}
    lifecycle.finish(STRIPE_EVENTS, event_row_id, status, values)
    log.info("Stripe event %s (%s): %s", event.stripe_event_id, event.type, status)


def handle(event: StripeEvent) -> str:
    """Apply one event; its payload was checked for shape when it was stored."""
    handler = HANDLERS.get(event.type)
    if handler is None:
        return IGNORED
    obj = (event.payload.get("data") or {}).get("object")
    if not isinstance(obj, dict):
        raise PermanentError("the event has no data.object")
    return handler(obj, event.type)


def _sync_subscription(subscription_id: str) -> User | None:
    state = stripe_api.retrieve_subscription(subscription_id)
    user = services.user_for_customer(state.customer_id)
    if user is not None:
        services.store_subscription(user, state)
    return user


def on_checkout_completed(session: dict, event_type: str) -> str:
    user = services.user_for_customer(session.get("customer"))
    if user is None:
        return IGNORED  # not a customer we created
    if session.get("subscription"):
        _sync_subscription(session["subscription"])
    services.request_card_sync(user)
    return PROCESSED


def on_subscription_changed(subscription: dict, event_type: str) -> str:
    return PROCESSED if _sync_subscription(subscription["id"]) else IGNORED


def on_invoice(invoice: dict, event_type: str) -> str:
    state = stripe_api.retrieve_invoice(invoice["id"])
    user = services.user_for_customer(state.customer_id)
    if user is None:
        return IGNORED
    record = services.store_invoice(user, state)
    if state.subscription_id:
        _sync_subscription(state.subscription_id)
    failed = event_type == "invoice.payment_failed" and state.status == "open"
    if failed and not record.failure_notified:  # one email per invoice, however often sent
        record.failure_notified = True
        send_email(
            to=user.email,
            user_id=user.id,
            template="payment_failed",
            amount=f"{state.amount_due / 100:.2f} {state.currency.upper()}",
            billing_url=absolute_url("billing.billing"),
        )
    return PROCESSED


def on_card_changed(obj: dict, event_type: str) -> str:
    customer_id = obj["id"] if event_type == "customer.updated" else obj.get("customer")
    user = services.user_for_customer(customer_id)
    if user is None:
        return IGNORED
    services.request_card_sync(user)
    return PROCESSED


HANDLERS = {
    "checkout.session.completed": on_checkout_completed,
    "customer.subscription.created": on_subscription_changed,
    "customer.subscription.updated": on_subscription_changed,
    "customer.subscription.deleted": on_subscription_changed,
    "invoice.paid": on_invoice,
    "invoice.payment_failed": on_invoice,
    "payment_method.attached": on_card_changed,
    "payment_method.automatically_updated": on_card_changed,
    "customer.updated": on_card_changed,
}


@lifecycle.durable_task(CARD_SYNCS)
def sync_card(billing_customer_id: int) -> None:
    """Fetch the default card from Stripe and store it; the expiring flag is recomputed at once."""
    claimed = lifecycle.claim(CARD_SYNCS, billing_customer_id)
    if claimed is None:
        return
    customer = db.session.get(BillingCustomer, billing_customer_id)
    try:
        card = stripe_api.default_card(customer.stripe_customer_id)
        if card is not None:
            stored = save_card(
                customer.user,
                brand=card.brand,
                last4=card.last4,
                exp_month=card.exp_month,
                exp_year=card.exp_year,
            )
            stored.stripe_payment_method_id = card.payment_method_id
        db.session.commit()
    except Exception as error:
        db.session.rollback()
        failure = lifecycle.fail(CARD_SYNCS, billing_customer_id, claimed.attempts, error)
        log.warning("Card sync %s failed: %s (now %s)", billing_customer_id, error, failure.status)
        return
    values = {BillingCustomer.card_synced_at: now_utc(), BillingCustomer.card_sync_error: None}
    lifecycle.finish(CARD_SYNCS, billing_customer_id, CardSyncStatus.SYNCED, values)


__all__ = ["process_stripe_event", "sync_card"]
