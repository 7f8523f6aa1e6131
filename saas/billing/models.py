"""Billing records: the card on file, the Stripe customer, subscriptions, invoices, events."""

from datetime import datetime
from enum import StrEnum

from flask import current_app
from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from saas.auth.models import User
from saas.database import now_utc
from saas.extensions import db
from saas.jobs.lifecycle import Kind
from saas.jobs.retry import RetryPolicy


class CardSyncStatus(StrEnum):
    QUEUED = "queued"
    SYNCING = "syncing"
    RETRYING = "retrying"
    SYNCED = "synced"
    FAILED = "failed"


class StripeEventStatus(StrEnum):
    RECEIVED = "received"
    PROCESSING = "processing"
    RETRYING = "retrying"
    PROCESSED = "processed"
    IGNORED = "ignored"  # a type we do not handle, or not one of our customers
    FAILED = "failed"
    INVALID = "invalid"  # signed, but not an event's shape: kept for a look, never processed


class Card(db.Model):
    __tablename__ = "cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    brand: Mapped[str] = mapped_column(String(32))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int]
    exp_year: Mapped[int]
    expiring_soon: Mapped[bool] = mapped_column(default=False, index=True)
    stripe_payment_method_id: Mapped[str | None] = mapped_column(String(255))
    # The expiry (exp_year * 12 + exp_month) the "expires soon" email was sent for.
    expiry_notice_for: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    user: Mapped[User] = relationship(
        backref=db.backref("card", uselist=False, cascade="all, delete-orphan")
    )

    @property
    def expiry_key(self) -> int:
        return self.exp_year * 12 + self.exp_month


class BillingCustomer(db.Model):
    """A user's Stripe customer, and the state of the card sync the billing page shows."""

    __tablename__ = "billing_customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    # The card sync's lifecycle (None: never requested).
    card_sync_status: Mapped[str | None] = mapped_column(String(16))
    card_sync_attempts: Mapped[int] = mapped_column(default=0)
    card_sync_enqueued_at: Mapped[datetime | None]
    card_sync_lease_expires_at: Mapped[datetime | None]
    card_sync_error: Mapped[str | None] = mapped_column(Text)
    card_synced_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now_utc)

    user: Mapped[User] = relationship(
        backref=db.backref("billing", uselist=False, cascade="all, delete-orphan")
    )

    @property
    def card_sync_state(self) -> str | None:
        """What the billing page shows: "pending" while a sync is under way, "failed", or None."""
        if self.card_sync_status in (CardSyncStatus.SYNCED, None):
            return None
        return "failed" if self.card_sync_status == CardSyncStatus.FAILED else "pending"


class Subscription(db.Model):
    """The local mirror of a Stripe subscription, always written from state fetched from Stripe."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    stripe_subscription_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(32))
    price_id: Mapped[str | None] = mapped_column(String(255))
    plan: Mapped[str | None] = mapped_column(String(32))
    current_period_end: Mapped[datetime | None]
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    ACTIVE = ("active", "trialing", "past_due")
    PAYMENT_PROBLEM = ("past_due", "unpaid", "incomplete")


class Invoice(db.Model):
    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    stripe_invoice_id: Mapped[str] = mapped_column(String(255), unique=True)
    number: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    amount_due: Mapped[int] = mapped_column(default=0)
    amount_paid: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(8), default="usd")
    hosted_invoice_url: Mapped[str | None] = mapped_column(String(1000))
    issued_at: Mapped[datetime | None]
    failure_notified: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)


class StripeEvent(db.Model):
    """Every webhook event, stored by its id: a redelivery is recognised and not processed again."""

    __tablename__ = "stripe_events"
    __table_args__ = (Index("ix_stripe_events_status_enqueued_at", "status", "enqueued_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str | None] = mapped_column(String(255))
    stripe_created_at: Mapped[datetime]
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=StripeEventStatus.RECEIVED)
    attempts: Mapped[int] = mapped_column(default=0)
    enqueued_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=now_utc)
    processed_at: Mapped[datetime | None]


def retry_policy() -> RetryPolicy:
    config = current_app.config
    return RetryPolicy(
        config["STRIPE_RETRIES"], config["STRIPE_RETRY_BASE"], config["STRIPE_RETRY_CAP"]
    )


STRIPE_EVENTS = Kind(
    name="stripe_event",
    model=StripeEvent,
    status=StripeEvent.status,
    attempts=StripeEvent.attempts,
    lease_expires_at=StripeEvent.lease_expires_at,
    due_at=StripeEvent.enqueued_at,
    error=StripeEvent.error,
    traceback=StripeEvent.traceback,
    pending=(StripeEventStatus.RECEIVED, StripeEventStatus.RETRYING),
    active=StripeEventStatus.PROCESSING,
    retrying=StripeEventStatus.RETRYING,
    failed=StripeEventStatus.FAILED,
    lease=lambda: current_app.config["STRIPE_LEASE"],
    policy=retry_policy,
)

CARD_SYNCS = Kind(
    name="card_sync",
    model=BillingCustomer,
    status=BillingCustomer.card_sync_status,
    attempts=BillingCustomer.card_sync_attempts,
    lease_expires_at=BillingCustomer.card_sync_lease_expires_at,
    due_at=BillingCustomer.card_sync_enqueued_at,
    error=BillingCustomer.card_sync_error,
    pending=(CardSyncStatus.QUEUED, CardSyncStatus.RETRYING),
    active=CardSyncStatus.SYNCING,
    retrying=CardSyncStatus.RETRYING,
    failed=CardSyncStatus.FAILED,
    lease=lambda: current_app.config["STRIPE_LEASE"],
    policy=retry_policy,
)
