"""Billing jobs: the nightly expiring-card pass, and per-customer tasks an admin runs by hand."""

from flask import current_app

from saas.auth.models import User
from saas.auth.services import account_of
from saas.billing.cards import refresh_expiring_flags
from saas.billing.models import Card
from saas.billing.services import request_card_sync
from saas.extensions import db
from saas.jobs.registry import RunContext, periodic, task
from saas.jobs.retry import PermanentError
from saas.mail import send_bulk, send_email
from saas.urls import absolute_url


@periodic("0 0 * * *", catch_up="latest", overlap="skip")
def mark_expiring_cards(run: RunContext) -> dict:
    """Flag cards expiring within the window, clear the rest; then one email per card and expiry
    date, never twice (the card remembers the expiry it was told about)."""
    changed = refresh_expiring_flags(run.as_of)
    db.session.commit()
    emailed, batch_size, after_id = 0, current_app.config["JOB_BATCH_SIZE"], 0
    billing_url = absolute_url("billing.billing")
    while True:
        batch = db.session.execute(
            db.select(
                Card.id,
                Card.brand,
                Card.last4,
                Card.exp_month,
                Card.exp_year,
                User.email,
                User.id.label("user_id"),
            )
            .join(User, User.id == Card.user_id)
            .where(
                Card.expiring_soon.is_(True),
                Card.id > after_id,
                User.active.is_(True),
                (Card.expiry_notice_for.is_(None))
                | (Card.expiry_notice_for != Card.exp_year * 12 + Card.exp_month),
            )
            .order_by(Card.id)
            .limit(batch_size)
        ).all()
        if not batch:
            break
        send_bulk(
            {
                "to": row.email,
                "user_id": row.user_id,
                "template": "card_expiring",
                "brand": row.brand,
                "last4": row.last4,
                "expires": f"{row.exp_month:02d}/{row.exp_year}",
                "billing_url": billing_url,
            }
            for row in batch
        )
        db.session.execute(
            db.update(Card)
            .where(Card.id.in_([row.id for row in batch]))
            .values(expiry_notice_for=Card.exp_year * 12 + Card.exp_month)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()  # the emails and the memory of them, together
        emailed += len(batch)
        after_id = batch[-1].id
    return {"flags_changed": changed, "emails": emailed}


@task(arguments={"user_id": int})
def resync_card(run: RunContext) -> dict:
    """Fetch one customer's card from Stripe again (a card sync, with its own retries)."""
    user = account_of(run)
    if user.billing is None:
        raise PermanentError(f"{user.email} has no Stripe customer: nothing to sync.")
    request_card_sync(user)
    db.session.commit()
    return {"card_sync": "queued", "user": user.email}


@task(arguments={"user_id": int})
def send_card_expiring_email(run: RunContext) -> dict:
    """Email one customer about their expiring card now, whatever was sent before."""
    user = account_of(run)
    card = db.session.execute(db.select(Card).where(Card.user_id == user.id)).scalar_one_or_none()
    if card is None:
        raise PermanentError(f"{user.email} has no card on file.")
    send_email(
        to=user.email,
        user_id=user.id,
        template="card_expiring",
        brand=card.brand,
        last4=card.last4,
        expires=f"{card.exp_month:02d}/{card.exp_year}",
        billing_url=absolute_url("billing.billing"),
    )
    db.session.commit()
    return {"emailed": user.email}
