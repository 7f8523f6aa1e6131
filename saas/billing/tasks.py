"""Worker tasks that talk to Stripe: processing webhook events, syncing the card on file.

Both are safe to run twice and in any order: they act on state fetched from Stripe, not on the
event's copy. Transient failures (network, 5xx, 429 after its Retry-After) are retried with the
shared backoff policy; permanent ones (other 4xx) fail at once and are kept with their error."""

import logging

from flask import current_app

from saas.auth.models import User
from saas.billing import services, stripe_api
from saas.billing.cards import save_card
from saas.billing.models import StripeEvent
from saas.database import now_utc
from saas.extensions import db, huey
from saas.jobs.retry import RetryPolicy, TransientError
from saas.mail import send_email
from saas.urls import absolute_url

log = logging.getLogger(__name__)

RECEIVED, PROCESSING, PROCESSED, IGNORED, FAILED = (
    "received",
    "processing",
    "processed",
    "ignored",
    "failed",
)


def retry_policy() -> RetryPolicy:
    config = current_app.config
    return RetryPolicy(
        config["STRIPE_RETRIES"], config["STRIPE_RETRY_BASE"], config["STRIPE_RETRY_CAP"]
    )


def retry_delay(attempt: int, error: Exception) -> float:
    """Backoff with jitter, but never sooner than Stripe's Retry-After."""
    delay = retry_policy().delay(attempt)
    retry_after = getattr(error, "retry_after", None)
    return max(delay, retry_after) if retry_after else delay


@huey.task()
def process_stripe_event(event_row_id: int) -> None:
    claimed = db.session.execute(
        db.update(StripeEvent)
        .where(StripeEvent.id == event_row_id, StripeEvent.status == RECEIVED)
        .values(status=PROCESSING, attempts=StripeEvent.attempts + 1)
        .returning(StripeEvent.attempts)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    db.session.commit()
    if claimed is None:
        return  # processed already, or being processed
    event = db.session.get(StripeEvent, event_row_id)
    handler = HANDLERS.get(event.type)
    try:
        status = handler(event.payload["data"]["object"], event.type) if handler else IGNORED
    except Exception as error:
        db.session.rollback()
        _event_failed(event_row_id, claimed.attempts, error)
        return
    event.status, event.processed_at, event.error = status, now_utc(), None
    db.session.commit()
    log.info("Stripe event %s (%s): %s", event.stripe_event_id, event.type, status)


def _event_failed(event_row_id: int, attempt: int, error: Exception) -> None:
    event = db.session.get(StripeEvent, event_row_id)
    event.error = f"{type(error).__name__}: {error}"[:2000]
    if retry_policy().should_retry(attempt, error) and isinstance(error, TransientError):
        delay = retry_delay(attempt, error)
        event.status = RECEIVED
        db.session.commit()
        process_stripe_event.schedule((event_row_id,), delay=delay)
        log.warning("Stripe event %s failed (%s); retry in %.0fs", event_row_id, error, delay)
    else:
        event.status = FAILED
        db.session.commit()
        log.error("Stripe event %s failed for good: %s", event_row_id, event.error)


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


@huey.task()
def sync_card(user_id: int, attempt: int = 1) -> None:
    """Fetch the default card from Stripe and store it; the expiring flag is recomputed at once."""
    user = db.session.get(User, user_id)
    if user is None or user.billing is None:
        return
    try:
        card = stripe_api.default_card(user.billing.stripe_customer_id)
    except Exception as error:
        db.session.rollback()
        if isinstance(error, TransientError) and retry_policy().should_retry(attempt, error):
            delay = retry_delay(attempt, error)
            sync_card.schedule((user_id, attempt + 1), delay=delay)
            log.warning("Card sync for user %s failed (%s); retry in %.0fs", user_id, error, delay)
            return
        user.billing.card_sync_status = "failed"
        user.billing.card_sync_error = f"{error}"[:500]
        db.session.commit()
        log.error("Card sync for user %s failed: %s", user_id, error)
        return
    if card is not None:
        stored = save_card(
            user,
            brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
        )
        stored.stripe_payment_method_id = card.payment_method_id
    user.billing.card_sync_status, user.billing.card_sync_error = None, None
    user.billing.card_synced_at = now_utc()
    db.session.commit()


__all__ = ["process_stripe_event", "sync_card"]
