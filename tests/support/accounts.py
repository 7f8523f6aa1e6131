"""Accounts and cards made directly in the database, for the scheduled-job tests. Dates are
relative to the product's clock (`clock.now()`), which the `fixed_clock` fixture fixes."""

from datetime import datetime, timedelta

from saas.auth.models import User
from saas.billing.cards import save_card
from saas.extensions import db
from saas.jobs import clock


def days_ago(days: float) -> datetime:
    return clock.now() - timedelta(days=days)


def months_ahead(months: int) -> tuple[int, int]:
    """(exp_month, exp_year) `months` after the clock's month; 0 expires this month."""
    now = clock.now()
    index = now.year * 12 + now.month - 1 + months
    return index % 12 + 1, index // 12


def make_user(app, email: str, *, seen_days_ago: float | None = 1, card=None, **fields) -> int:
    """A customer (password "customer-password"); `card` = (exp_month, exp_year, last4)."""
    with app.app_context():
        user = User(email=email, **fields)
        user.set_password("customer-password")
        if seen_days_ago is not None:
            user.last_seen_at = days_ago(seen_days_ago)
        db.session.add(user)
        if card:
            month, year, last4 = card
            save_card(user, brand="visa", last4=last4, exp_month=month, exp_year=year)
        db.session.commit()
        return user.id
