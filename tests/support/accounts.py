"""Accounts and cards made directly in the database, for the scheduled-job tests."""

from datetime import timedelta

from saas.auth.models import User
from saas.billing.cards import save_card
from saas.database import now_utc
from saas.extensions import db


def make_user(app, email: str, *, seen_days_ago: float | None = 1, card=None, **fields) -> int:
    """A customer (password "customer-password"); `card` = (exp_month, exp_year, last4)."""
    with app.app_context():
        user = User(email=email, **fields)
        user.set_password("customer-password")
        if seen_days_ago is not None:
            user.last_seen_at = now_utc() - timedelta(days=seen_days_ago)
        db.session.add(user)
        if card:
            month, year, last4 = card
            save_card(user, brand="visa", last4=last4, exp_month=month, exp_year=year)
        db.session.commit()
        return user.id


def months_from_now(months: int) -> tuple[int, int]:
    now = now_utc()
    index = now.year * 12 + now.month - 1 + months
    return index % 12 + 1, index // 12
