"""Card expiry: a card is valid until the end of its expiry month."""

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case

from saas.auth.models import User
from saas.billing.models import Card
from saas.database import now_utc
from saas.extensions import db


def expiry_limit(as_of: datetime, window_days: int) -> int:
    """Cards whose exp_year * 12 + exp_month is at most this expire within the window: the card
    stops being valid at the start of the month after its expiry month, and that start is on or
    before `as_of + window` exactly when the expiry month is before the month of that date."""
    horizon = as_of + timedelta(days=window_days)
    return horizon.year * 12 + horizon.month - 1


def expiring_condition(as_of: datetime, window_days: int):
    return Card.exp_year * 12 + Card.exp_month <= expiry_limit(as_of, window_days)


def is_expiring(card: Card, as_of: datetime | None = None) -> bool:
    window = current_app.config["CARD_EXPIRY_WINDOW_DAYS"]
    return card.expiry_key <= expiry_limit(as_of or now_utc(), window)


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
