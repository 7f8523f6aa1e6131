"""Card expiry: a card is valid until the last day of its expiry month."""

import calendar
from datetime import UTC, date, datetime, timedelta

from flask import current_app
from sqlalchemy import case

from saas.auth.models import User
from saas.billing.models import Card
from saas.database import now_utc
from saas.extensions import db
from saas.jobs import clock


def month_key(day: date) -> int:
    return day.year * 12 + day.month


def is_last_day_of_month(day: date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


def expiry_limit(as_of: datetime, window_days: int) -> int:
    """Cards whose exp_year * 12 + exp_month is at most this are flagged: their last valid day is
    on or before today + window (that whole day counts), or they expire this month or earlier.
    A month's last day is on or before the horizon exactly when the month is before the
    horizon's month, or is that month and the horizon is its last day."""
    today = as_of.astimezone(UTC).date()
    horizon = today + timedelta(days=window_days)
    limit = month_key(horizon) - (0 if is_last_day_of_month(horizon) else 1)
    return max(limit, month_key(today))


def expiring_condition(as_of: datetime, window_days: int):
    return Card.exp_year * 12 + Card.exp_month <= expiry_limit(as_of, window_days)


def is_expiring(card: Card, as_of: datetime | None = None) -> bool:
    """The same rule as `expiring_condition`, for one card in memory (default: now)."""
    window = current_app.config["CARD_EXPIRY_WINDOW_DAYS"]
    return card.expiry_key <= expiry_limit(as_of or clock.now(), window)


def refresh_expiring_flags(as_of: datetime) -> int:
    """One set-based update: flag every card expiring within the window (expired ones too),
    clear the rest; only rows whose flag changes are written. Returns how many changed."""
    expiring = expiring_condition(as_of, current_app.config["CARD_EXPIRY_WINDOW_DAYS"])
    flag = case((expiring, True), else_=False)
    return db.session.execute(
        db.update(Card)
        .where(Card.expiring_soon != flag)
        .values(expiring_soon=flag, updated_at=now_utc())
        .execution_options(synchronize_session=False)
    ).rowcount


def save_card(user: User, *, brand: str, last4: str, exp_month: int, exp_year: int) -> Card:
    """The card on file changed: store it and recompute its flag now, not at midnight."""
    card = user.card or Card(user=user)
    card.brand, card.last4 = brand, last4
    card.exp_month, card.exp_year = exp_month, exp_year
    card.expiring_soon = is_expiring(card)
    db.session.add(card)
    return card
