"""Outbox row transitions: claim, record the outcome, reclaim lost work.

An attempt's transitions (claim, record_sent, record_failure) are single statements that commit
on their own, on one connection held for the attempt (`attempt_connection`): the outcome is
written one round trip after the SMTP server answers, which keeps the window in which a killed
worker causes a duplicate short. The sweep's transitions run in the caller's session; the caller
commits."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from email.message import Message

from flask import current_app
from sqlalchemy import Connection

from saas.database import now_utc
from saas.extensions import db
from saas.jobs.retry import RetryPolicy
from saas.mail.models import FAILED, PENDING, RETRYING, SENDING, SENT, OutboundEmail
from saas.mail.rendering import render_email
from saas.mail.transport import build_message, stable_message_id


def retry_policy() -> RetryPolicy:
    config = current_app.config
    return RetryPolicy(config["MAIL_RETRIES"], config["MAIL_RETRY_BASE"], config["MAIL_RETRY_CAP"])


@dataclass(frozen=True)
class ClaimedEmail:
    """What one attempt needs, read by the claim itself: no session is held while sending."""

    id: int
    to_address: str
    reply_to: str | None
    template: str
    context: dict
    attempts: int
    message_id: str


def claim(connection: Connection, email_id: int) -> ClaimedEmail | None:
    """Take the row for one attempt; a conditional update, so two workers never both win."""
    now = now_utc()
    lease = timedelta(seconds=current_app.config["MAIL_SEND_LEASE"])
    row = connection.execute(
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
        .returning(
            OutboundEmail.to_address,
            OutboundEmail.reply_to,
            OutboundEmail.template,
            OutboundEmail.context,
            OutboundEmail.attempts,
            OutboundEmail.created_at,
        )
    ).one_or_none()
    if row is None:
        return None
    return ClaimedEmail(
        id=email_id,
        to_address=row.to_address,
        reply_to=row.reply_to,
        template=row.template,
        context=row.context,
        attempts=row.attempts,
        message_id=stable_message_id(email_id, row.created_at),
    )


@contextmanager
def attempt_connection() -> Iterator[Connection]:
    """An autocommit connection for one delivery attempt: each statement is its own transaction."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        yield connection


def prepare(email: ClaimedEmail) -> Message:
    """Render the claimed row into a message with its stable Message-ID."""
    rendered = render_email(email.template, email.context)
    return build_message(
        to=email.to_address, rendered=rendered, reply_to=email.reply_to, message_id=email.message_id
    )


def record_sent(connection: Connection, email: ClaimedEmail) -> None:
    now = now_utc()
    connection.execute(
        db.update(OutboundEmail)
        .where(OutboundEmail.id == email.id)
        .values(
            status=SENT,
            sent_at=now,
            updated_at=now,
            message_id=email.message_id,
            lease_expires_at=None,
            last_error=None,
        )
    )


def record_failure(
    connection: Connection, email: ClaimedEmail, error: BaseException
) -> tuple[str | None, float | None]:
    """Mark the row retrying or failed; returns (new status, retry delay).

    Only while the row is still ours (status None otherwise): if the sweep took it back and
    another worker already sent it, this attempt's failure must not undo that."""
    policy = retry_policy()
    now = now_utc()
    changes = {
        "last_error": f"{type(error).__name__}: {error}"[:2000],
        "lease_expires_at": None,
        "message_id": email.message_id,
        "updated_at": now,
    }
    delay = None
    if policy.should_retry(email.attempts, error):
        delay = policy.delay(email.attempts)
        retry_at = now + timedelta(seconds=delay)
        changes.update(status=RETRYING, next_attempt_at=retry_at, enqueued_at=retry_at)
    else:
        changes.update(status=FAILED)
    still_ours = connection.execute(
        db.update(OutboundEmail)
        .where(OutboundEmail.id == email.id, OutboundEmail.status == SENDING)
        .values(**changes)
        .returning(OutboundEmail.id)
    ).one_or_none()
    if still_ours is None:
        return None, None
    return changes["status"], delay


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
