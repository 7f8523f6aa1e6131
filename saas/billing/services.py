"""Billing operations on our records; Stripe is reached only through stripe_api."""

from datetime import UTC, datetime

from flask import current_app

from saas.auth.models import User
from saas.billing import stripe_api
from saas.billing.models import BillingCustomer, Invoice, Subscription
from saas.extensions import db
from saas.jobs.enqueue import enqueue_after_commit


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
    from saas.billing.tasks import sync_card  # noqa: PLC0415 - tasks import this module

    if user.billing is None:
        return
    user.billing.card_sync_status, user.billing.card_sync_error = "pending", None
    enqueue_after_commit(sync_card, user.id)


def invoices(user: User) -> list[Invoice]:
    return list(
        db.session.execute(
            db.select(Invoice).where(Invoice.user_id == user.id).order_by(Invoice.issued_at.desc())
        ).scalars()
    )
