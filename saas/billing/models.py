"""Billing records: the card on file, the Stripe customer, subscriptions, invoices, events."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from saas.auth.models import User
from saas.database import now_utc
from saas.extensions import db


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
    card_sync_status: Mapped[str | None] = mapped_column(String(16))  # pending | failed
    card_sync_error: Mapped[str | None] = mapped_column(String(500))
    card_synced_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now_utc)

    user: Mapped[User] = relationship(
        backref=db.backref("billing", uselist=False, cascade="all, delete-orphan")
    )


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

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str | None] = mapped_column(String(255))
    stripe_created_at: Mapped[datetime]
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="received")
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=now_utc)
    processed_at: Mapped[datetime | None]
