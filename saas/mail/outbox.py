"""Outbox row transitions: claim, record the outcome, reclaim lost work. Callers commit."""

from datetime import timedelta
from email.message import EmailMessage

from flask import current_app

from saas.database import now_utc
from saas.extensions import db
from saas.jobs.retry import RetryPolicy
from saas.mail.models import FAILED, PENDING, RETRYING, SENDING, SENT, OutboundEmail
from saas.mail.rendering import render_email
from saas.mail.transport import build_message, stable_message_id


def retry_policy() -> RetryPolicy:
    config = current_app.config
    return RetryPolicy(config["MAIL_RETRIES"], config["MAIL_RETRY_BASE"], config["MAIL_RETRY_CAP"])


def claim(email_id: int) -> OutboundEmail | None:
    """Take the row for one attempt; a conditional update, so two workers never both win."""
    now = now_utc()
    lease = timedelta(seconds=current_app.config["MAIL_SEND_LEASE"])
    claimed = db.session.execute(
        db.update(OutboundEmail)
        .where(
            OutboundEmail.id == email_id,
            OutboundEmail.status.in_(PENDING),
            OutboundEmail.next_attempt_at <= now + timedelta(seconds=1),
        )
        .values(
            status=SENDING,
            attempts=OutboundEmail.attempts + 1,
            lease_expires_at=now + lease,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        return None
    return db.session.get(OutboundEmail, email_id, populate_existing=True)


def prepare(email: OutboundEmail) -> EmailMessage:
    """Render the row into a message with its stable Message-ID."""
    email.message_id = email.message_id or stable_message_id(email.id, email.created_at)
    rendered = render_email(email.template, email.context)
    return build_message(
        to=email.to_address, rendered=rendered, reply_to=email.reply_to, message_id=email.message_id
    )


def record_sent(email: OutboundEmail) -> None:
    email.status, email.sent_at = SENT, now_utc()
    email.lease_expires_at = None
    email.last_error = None


def record_failure(email: OutboundEmail, error: BaseException) -> float | None:
    """Mark the row retrying (returns the delay) or failed (returns None)."""
    policy = retry_policy()
    email.last_error = f"{type(error).__name__}: {error}"[:2000]
    email.lease_expires_at = None
    if not policy.should_retry(email.attempts, error):
        email.status = FAILED
        return None
    delay = policy.delay(email.attempts)
    email.status = RETRYING
    email.next_attempt_at = email.enqueued_at = now_utc() + timedelta(seconds=delay)
    return delay


def reclaim_expired_leases() -> int:
    """Rows left in 'sending' by a worker that died: retry them now, or fail the exhausted."""
    now = now_utc()
    expired = OutboundEmail.status == SENDING, OutboundEmail.lease_expires_at < now
    exhausted = OutboundEmail.attempts > current_app.config["MAIL_RETRIES"]
    reset = {"lease_expires_at": None, "updated_at": now}
    failed = db.session.execute(
        db.update(OutboundEmail)
        .where(*expired, exhausted)
        .values(status=FAILED, last_error="worker lost during the last attempt", **reset)
    ).rowcount
    retried = db.session.execute(
        db.update(OutboundEmail)
        .where(*expired, ~exhausted)
        .values(status=RETRYING, next_attempt_at=now, **reset)
    ).rowcount
    return failed + retried


def orphaned_ids(limit: int = 1000) -> list[int]:
    """Due rows whose task should have run by now: the queue lost it (flush, restart)."""
    cutoff = now_utc() - timedelta(seconds=current_app.config["MAIL_SWEEP_GRACE"])
    return list(
        db.session.execute(
            db.select(OutboundEmail.id)
            .where(
                OutboundEmail.status.in_(PENDING),
                OutboundEmail.next_attempt_at <= cutoff,
                (OutboundEmail.enqueued_at.is_(None)) | (OutboundEmail.enqueued_at <= cutoff),
            )
            .order_by(OutboundEmail.next_attempt_at)
            .limit(limit)
        ).scalars()
    )
