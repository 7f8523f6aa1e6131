"""`flask seed`: idempotent demo data so a newcomer sees the product at once."""

from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from saas.auth import services as accounts
from saas.auth.models import ADMIN, User
from saas.billing.cards import save_card
from saas.config import in_production
from saas.database import now_utc
from saas.extensions import db
from saas.jobs import clock

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password"
CUSTOMER_PASSWORD = "customer-password"


def _months_ahead(months: int) -> tuple[int, int]:
    today = clock.now().date()
    index = today.year * 12 + today.month - 1 + months
    return index % 12 + 1, index // 12


def _demo_customers() -> list[dict]:
    """(email, days since last seen, card expiry month offset or None)."""
    return [
        {"email": "expiring@example.com", "seen_days_ago": 1, "card_in_months": 0},
        {"email": "inactive@example.com", "seen_days_ago": 7 * 30, "card_in_months": 18},
        {"email": "alice@example.com", "seen_days_ago": 3, "card_in_months": 24},
        {"email": "bob@example.com", "seen_days_ago": 10, "card_in_months": None},
    ]


def _ensure_user(email: str, password: str, role: str = "member") -> tuple[User, bool]:
    user = accounts.find_user(email)
    if user is not None:
        return user, False
    return accounts.register(email=email, password=password, role=role, verified=True), True


def seed_demo_data(admin_password: str = ADMIN_PASSWORD, customers: bool = True) -> list[str]:
    """Create missing demo accounts; returns the emails created."""
    created = []
    admin, new = _ensure_user(ADMIN_EMAIL, admin_password, ADMIN)
    created += [admin.email] if new else []
    for spec in _demo_customers() if customers else []:
        user, new = _ensure_user(spec["email"], CUSTOMER_PASSWORD)
        if not new:
            continue
        created.append(user.email)
        user.last_seen_at = now_utc() - timedelta(days=spec["seen_days_ago"])
        if spec["card_in_months"] is not None:
            month, year = _months_ahead(spec["card_in_months"])
            save_card(user, brand="visa", last4="4242", exp_month=month, exp_year=year)
    return created


@click.command("seed")
@click.option("--force", is_flag=True, help="Seed in production: only the admin, password asked.")
@with_appcontext
def seed_command(force: bool) -> None:
    """Create demo accounts (safe to run again)."""
    if in_production(current_app.config):
        _seed_production(force)
        return
    created = seed_demo_data()
    db.session.commit()
    click.echo(
        f"Created {len(created)} demo accounts." if created else "Demo data already present."
    )
    click.echo(f"Admin:     {ADMIN_EMAIL} / {ADMIN_PASSWORD}")
    click.echo(
        f"Customers: {', '.join(c['email'] for c in _demo_customers())} / {CUSTOMER_PASSWORD}"
    )


def _seed_production(force: bool) -> None:
    """Production gets no published passwords: only the admin, with a password typed twice."""
    if not force:
        raise click.ClickException(
            "APP_ENV is production: seed creates demo accounts with published passwords. "
            "Use --force to create only the admin, with a password you type."
        )
    password = click.prompt("Admin password", hide_input=True, confirmation_prompt=True)
    if password in (ADMIN_PASSWORD, CUSTOMER_PASSWORD):
        raise click.ClickException("That password is published in the README: choose another.")
    try:
        created = seed_demo_data(admin_password=password, customers=False)
    except accounts.AccountError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"Created the admin {ADMIN_EMAIL}." if created else "The admin already exists.")
