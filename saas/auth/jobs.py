"""Scheduled account jobs: inactivity reminders (and optional deletion), the monthly digest.

Users are streamed in id order, JOB_BATCH_SIZE at a time (keyset pagination), and each batch's
emails and the users' memory of them commit together, so a rerun sends nothing twice."""

from collections.abc import Iterator
from datetime import datetime, timedelta

from flask import current_app

from saas.auth import services
from saas.auth.models import MEMBER, User
from saas.billing.models import Card
from saas.database import now_utc
from saas.extensions import db
from saas.jobs.registry import RunContext, periodic, task
from saas.mail import send_bulk, send_email
from saas.urls import absolute_url


def _batches(query, batch_size: int) -> Iterator[list]:
    after_id = 0
    while batch := db.session.execute(
        query.where(User.id > after_id).order_by(User.id).limit(batch_size)
    ).all():
        yield batch
        after_id = batch[-1].id


def _mark(user_ids: list[int], **values) -> None:
    db.session.execute(
        db.update(User)
        .where(User.id.in_(user_ids))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


@periodic("0 1 * * *", catch_up="latest", overlap="skip")
def remind_inactive_users(run: RunContext) -> dict:
    """One reminder per inactivity period to users not seen for INACTIVE_AFTER_DAYS (a later visit
    starts a new period). With INACTIVE_DELETE_AFTER_DAYS set, still-inactive users are warned,
    then deleted INACTIVE_DELETE_WARNING_DAYS after the warning."""
    config = current_app.config
    now, batch_size = run.as_of, config["JOB_BATCH_SIZE"]
    seen = db.func.coalesce(User.last_seen_at, User.created_at)
    inactive = (User.active.is_(True), seen < now - timedelta(days=config["INACTIVE_AFTER_DAYS"]))
    counts = {"reminded": 0, "warned": 0, "deleted": 0}
    login_url = absolute_url("auth.login")

    not_reminded = (User.inactivity_reminded_at.is_(None)) | (User.inactivity_reminded_at < seen)
    query = db.select(User.id, User.email).where(*inactive, not_reminded)
    for batch in _batches(query, batch_size):
        send_bulk(
            {
                "to": u.email,
                "user_id": u.id,
                "template": "inactive_reminder",
                "login_url": login_url,
            }
            for u in batch
        )
        _mark([u.id for u in batch], inactivity_reminded_at=now)
        db.session.commit()
        counts["reminded"] += len(batch)

    delete_after = config["INACTIVE_DELETE_AFTER_DAYS"]
    if delete_after > 0:
        counts.update(_warn_then_delete(now, inactive, seen, delete_after, login_url))
    return counts


def _warn_then_delete(now: datetime, inactive, seen, delete_after: int, login_url: str) -> dict:
    config = current_app.config
    warning_days = config["INACTIVE_DELETE_WARNING_DAYS"]
    deletion_at = now + timedelta(days=warning_days)
    counts = {"warned": 0, "deleted": 0}
    due_for_warning = (
        User.inactivity_reminded_at < now - timedelta(days=max(0, delete_after - warning_days)),
        User.inactivity_reminded_at >= seen,
        (User.deletion_warned_at.is_(None)) | (User.deletion_warned_at < seen),
        User.role == MEMBER,
    )
    query = db.select(User.id, User.email).where(*inactive, *due_for_warning)
    for batch in _batches(query, config["JOB_BATCH_SIZE"]):
        send_bulk(
            {
                "to": u.email,
                "user_id": u.id,
                "template": "account_deletion_warning",
                "login_url": login_url,
                "deletion_date": deletion_at.strftime("%d %B %Y"),
            }
            for u in batch
        )
        _mark([u.id for u in batch], deletion_warned_at=now)
        db.session.commit()
        counts["warned"] += len(batch)
    # Deleted only after a warning that is old enough and was not followed by a visit.
    doomed = db.select(User.id).where(
        *inactive,
        User.role == MEMBER,
        User.deletion_warned_at <= now - timedelta(days=warning_days),
        User.deletion_warned_at >= seen,
    )
    for batch in _batches(doomed, config["JOB_BATCH_SIZE"]):
        ids = [u.id for u in batch]
        db.session.execute(db.delete(Card).where(Card.user_id.in_(ids)))
        db.session.execute(db.delete(User).where(User.id.in_(ids)))
        db.session.commit()
        counts["deleted"] += len(ids)
    return counts


@periodic("0 1 * * 2#2", catch_up="latest", overlap="skip")
def monthly_digest(run: RunContext) -> dict:
    """An account summary to every active customer, once per month (by hand or on the second
    Tuesday's slot, whichever comes first)."""
    slot = run.as_of
    month_start = slot.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    query = (
        db.select(
            User.id,
            User.email,
            User.created_at,
            User.sign_in_count,
            User.last_seen_at,
            Card.brand,
            Card.last4,
            Card.exp_month,
            Card.exp_year,
            Card.expiring_soon,
        )
        .outerjoin(Card, Card.user_id == User.id)
        .where(
            User.active.is_(True),
            User.role == MEMBER,
            (User.last_digest_at.is_(None)) | (User.last_digest_at < month_start),
        )
    )
    sent = 0
    for batch in _batches(query, current_app.config["JOB_BATCH_SIZE"]):
        send_bulk(
            {
                "to": u.email,
                "user_id": u.id,
                "template": "monthly_digest",
                "month": slot.strftime("%B %Y"),
                "member_since": u.created_at.strftime("%d %B %Y"),
                "sign_ins": u.sign_in_count,
                "last_seen": u.last_seen_at.strftime("%d %B %Y") if u.last_seen_at else None,
                "card": f"{u.brand} ending {u.last4}, expires {u.exp_month:02d}/{u.exp_year}"
                if u.last4
                else None,
                "card_expiring": bool(u.expiring_soon),
                "billing_url": absolute_url("billing.billing"),
            }
            for u in batch
        )
        _mark([u.id for u in batch], last_digest_at=slot)
        db.session.commit()
        sent += len(batch)
    return {"sent": sent, "sent_at": now_utc().isoformat()}


@task(arguments={"user_id": int})
def send_inactivity_reminder(run: RunContext) -> dict:
    """Email one account the inactivity reminder now, whenever it was last seen."""
    user = services.account_of(run)
    send_email(
        to=user.email,
        user_id=user.id,
        template="inactive_reminder",
        login_url=absolute_url("auth.login"),
    )
    db.session.commit()
    return {"emailed": user.email}
