"""Sending email through the outbox; sweeping it; retrying failed rows by hand."""

import logging
from collections.abc import Iterable

from saas.database import now_utc
from saas.extensions import db
from saas.jobs import lifecycle
from saas.jobs.enqueue import IdOf, enqueue_after_commit
from saas.jobs.runner import current_run_id
from saas.mail.models import EMAILS, EmailStatus, OutboundEmail
from saas.mail.tasks import deliver_outbound_email

log = logging.getLogger(__name__)


def send_email(
    *, to: str, template: str, reply_to: str | None = None, user_id: int | None = None, **context
) -> OutboundEmail:
    """Add an email to the outbox in the caller's transaction; the worker sends it after commit.
    `user_id`: the account it is sent for, if any."""
    email = OutboundEmail(
        to_address=to,
        user_id=user_id,
        job_run_id=current_run_id(),
        reply_to=reply_to,
        template=template,
        context=context,
        enqueued_at=now_utc(),
    )
    db.session.add(email)
    enqueue_after_commit(deliver_outbound_email, IdOf(email))
    return email


def send_bulk(emails: Iterable[dict]) -> list[int]:
    """Many emails in one INSERT (each dict: to, template, optional reply_to and user_id, context
    keys); like send_email, in the caller's transaction, each task enqueued after the commit."""
    now, run_id = now_utc(), current_run_id()
    rows = []
    for email in emails:
        context = dict(email)
        to, template, reply_to, user_id = (
            context.pop("to"),
            context.pop("template"),
            context.pop("reply_to", None),
            context.pop("user_id", None),
        )
        rows.append(
            {
                "to_address": to,
                "user_id": user_id,
                "job_run_id": run_id,
                "reply_to": reply_to,
                "template": template,
                "context": context,
                "status": EmailStatus.QUEUED,
                "attempts": 0,
                "next_attempt_at": now,
                "enqueued_at": now,
                "created_at": now,
                "updated_at": now,
            }
        )
    if not rows:
        return []
    # The Core table, not the ORM entity: the ORM's bulk insert splits rows by which values are
    # None, one statement each; this is one INSERT for them all.
    table = OutboundEmail.__table__
    insert = db.insert(table).returning(table.c.id)
    ids = list(db.session.execute(insert, rows).scalars())
    for email_id in ids:
        enqueue_after_commit(deliver_outbound_email, email_id)
    return ids


def sweep() -> dict[str, int]:
    """Take back rows from dead workers and re-enqueue rows the queue lost; the caller commits."""
    return lifecycle.sweep(EMAILS)


def failed_emails(*, limit: int = 100) -> list[OutboundEmail]:
    """The newest failed rows, each with the error that made it final."""
    query = db.select(OutboundEmail).where(OutboundEmail.status == EmailStatus.FAILED)
    return db.session.execute(query.order_by(OutboundEmail.id.desc()).limit(limit)).scalars().all()


def retry_failed(*, email_ids: list[int] | None = None) -> list[int]:
    """Queue failed rows again (all of them when `email_ids` is None), each through the
    lifecycle's operator retry; returns their ids. The CLI and the console both call this."""
    query = db.select(OutboundEmail.id).where(OutboundEmail.status == EmailStatus.FAILED)
    if email_ids is not None:
        query = query.where(OutboundEmail.id.in_(email_ids))
    due = EMAILS.on_requeue(now_utc())
    ids = db.session.execute(query.order_by(OutboundEmail.id)).scalars().all()
    return [email_id for email_id in ids if lifecycle.requeue_failed(EMAILS, email_id, due)]


def discard(email_id: int) -> bool:
    """Give up on a failed or waiting email: its queued task then sends nothing. False, and
    nothing changed, when it is being sent or already finished."""
    return lifecycle.discard(EMAILS, email_id, EmailStatus.DISCARDED)
