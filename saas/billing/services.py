"""Billing operations on our records; Stripe is reached only through stripe_api."""

import hashlib
from datetime import UTC, datetime

from flask import current_app

from saas.auth.models import User
from saas.billing import stripe_api
from saas.billing.models import (
    CARD_SYNCS,
    STRIPE_EVENTS,
    BillingCustomer,
    Invoice,
    StripeEvent,
    StripeEventStatus,
    Subscription,
)
from saas.database import now_utc
from saas.extensions import autocommit_if_idle, db, insert_on_conflict
from saas.jobs import lifecycle


def plans() -> list[dict]:
    return current_app.config["BILLING_PLANS"]


def plan_by_key(key: str) -> dict | None:
    return next((plan for plan in plans() if plan["key"] == key), None)


def plan_by_price(price_id: str | None) -> dict | None:
    return next((plan for plan in plans() if plan["price_id"] == price_id), None)


def ensure_customer(user: User) -> BillingCustomer:
    """The user's Stripe customer, created on first need (idempotently, keyed by the user)."""
    if user.billing is None:
        customer_id = stripe_api.create_customer(email=user.email, user_id=user.id)
        db.session.add(BillingCustomer(user=user, stripe_customer_id=customer_id))
        db.session.flush()
    return user.billing


def user_for_customer(customer_id: str | None) -> User | None:
    if not customer_id:
        return None
    return db.session.execute(
        db.select(User)
        .join(BillingCustomer)
        .where(BillingCustomer.stripe_customer_id == customer_id)
    ).scalar_one_or_none()


def current_subscription(user: User) -> Subscription | None:
    return db.session.execute(
        db.select(Subscription)
        .where(Subscription.user_id == user.id)
        .order_by(Subscription.status.in_(Subscription.ACTIVE).desc(), Subscription.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def has_active_subscription(user: User) -> bool:
    subscription = current_subscription(user)
    return subscription is not None and subscription.status in Subscription.ACTIVE


def _timestamp(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None


def store_subscription(user: User, state: stripe_api.SubscriptionState) -> Subscription:
    """Mirror the state fetched from Stripe; arrival order of events never matters."""
    subscription = db.session.execute(
        db.select(Subscription).where(Subscription.stripe_subscription_id == state.id)
    ).scalar_one_or_none() or Subscription(user_id=user.id, stripe_subscription_id=state.id)
    plan = plan_by_price(state.price_id)
    subscription.status = state.status
    subscription.price_id = state.price_id
    subscription.plan = plan["key"] if plan else None
    subscription.current_period_end = _timestamp(state.current_period_end)
    subscription.cancel_at_period_end = state.cancel_at_period_end
    db.session.add(subscription)
    return subscription


def store_invoice(user: User, state: stripe_api.InvoiceState) -> Invoice:
    invoice = db.session.execute(
        db.select(Invoice).where(Invoice.stripe_invoice_id == state.id)
    ).scalar_one_or_none() or Invoice(user_id=user.id, stripe_invoice_id=state.id)
    invoice.number, invoice.status = state.number, state.status
    invoice.amount_due, invoice.amount_paid = state.amount_due, state.amount_paid
    invoice.currency, invoice.hosted_invoice_url = state.currency, state.hosted_invoice_url
    invoice.issued_at = _timestamp(state.created)
    db.session.add(invoice)
    return invoice


def request_card_sync(user: User) -> None:
    """Fetch the card from Stripe in the worker; the billing page shows it is updating."""
    if user.billing is None:
        return
    for column, value in lifecycle.queued_values(CARD_SYNCS).items():
        setattr(user.billing, column.key, value)
    lifecycle.enqueue(CARD_SYNCS, user.billing.id)


def store_webhook_event(event: dict) -> tuple[int, bool]:
    """Store a verified event once by its id and queue its processing after commit; returns
    (row id, whether it was stored before). A redelivery of an event that was stored but never
    processed (its task lost) queues it again: the claim keeps a doubled task harmless."""
    now = now_utc()
    autocommit_if_idle()  # store + enqueue in two round trips: the INSERT, then the LPUSH
    stored = db.session.execute(
        insert_on_conflict(StripeEvent)
        .values(
            stripe_event_id=event["id"],
            type=event["type"],
            object_id=event["data"]["object"].get("id"),
            stripe_created_at=_created(event),
            payload=event,
            status=StripeEventStatus.RECEIVED,
            attempts=0,
            received_at=now,
            enqueued_at=now,
        )
        .on_conflict_do_nothing(index_elements=["stripe_event_id"])
        .returning(StripeEvent.id)
    ).scalar_one_or_none()
    if stored is not None:
        lifecycle.enqueue(STRIPE_EVENTS, stored)
        return stored, False
    row_id = _requeue_unprocessed(event["id"])
    return row_id, True


def _requeue_unprocessed(stripe_event_id: str) -> int:
    """A redelivered event not yet processed: due now, and queued again."""
    event = db.session.execute(
        db.select(StripeEvent).where(StripeEvent.stripe_event_id == stripe_event_id)
    ).scalar_one()
    if event.status in STRIPE_EVENTS.pending:
        event.enqueued_at = now_utc()
        lifecycle.enqueue(STRIPE_EVENTS, event.id)
    return event.id


def store_invalid_event(body: bytes, event) -> int | None:
    """Keep a signed body that is not an event once, as `invalid`, for a look; never processed."""
    event_id = event.get("id") if isinstance(event, dict) else None
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 255:
        event_id = "invalid:" + hashlib.sha256(body).hexdigest()
    now = now_utc()
    return db.session.execute(
        insert_on_conflict(StripeEvent)
        .values(
            stripe_event_id=event_id,
            type="unknown",
            stripe_created_at=now,
            payload=event if isinstance(event, dict) else {"raw": body.decode("utf-8", "replace")},
            status=StripeEventStatus.INVALID,
            attempts=0,
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=["stripe_event_id"])
        .returning(StripeEvent.id)
    ).scalar_one_or_none()


def _created(event: dict) -> datetime:
    created = event.get("created")
    if type(created) is int and 0 <= created < 253402300800:  # before the year 10000
        return datetime.fromtimestamp(created, UTC)
    return now_utc()


def invoices(user: User) -> list[Invoice]:
    return list(
        db.session.execute(
            db.select(Invoice).where(Invoice.user_id == user.id).order_by(Invoice.issued_at.desc())
        ).scalars()
    )
