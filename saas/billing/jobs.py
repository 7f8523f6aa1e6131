"""Scheduled billing jobs."""

from flask import current_app

from saas.auth.models import User
from saas.billing.cards import refresh_expiring_flags
from saas.billing.models import Card
from saas.extensions import db
from saas.jobs.registry import RunContext, periodic
from saas.mail import send_bulk
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
