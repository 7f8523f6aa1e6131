"""Outbox attempts through the durable-work lifecycle, on its autocommit fast path.

An attempt's transitions (claim, record_sent, record_failure) are single statements that commit
on their own, on one connection held for the attempt (`attempt_connection`): the outcome is
written one round trip after the SMTP server answers, which keeps the window in which a killed
worker causes a duplicate short. If the database drops meanwhile, the lifecycle writes the
outcome again on a fresh connection once it is back. While the mail server is down (the
breaker is open) an attempt is not even claimed: `postpone` puts the task back."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import Message

from sqlalchemy import Connection

from saas.database import now_utc
from saas.extensions import db
from saas.jobs import lifecycle
from saas.mail.models import EMAILS, EmailStatus, OutboundEmail
from saas.mail.rendering import render_email
from saas.mail.transport import build_message, stable_message_id


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
    created_at: datetime

    def age(self) -> float:
        """Seconds since the email was created: what MAIL_RETRY_FOR counts."""
        return (now_utc() - self.created_at).total_seconds()


def _due() -> tuple:
    return (OutboundEmail.next_attempt_at <= now_utc() + timedelta(seconds=1),)


def claim(connection: Connection, email_id: int) -> ClaimedEmail | None:
    """Take the row for one attempt, if it is pending and due."""
    row = lifecycle.claim(
        EMAILS,
        email_id,
        where=_due(),
        returning=(
            OutboundEmail.to_address,
            OutboundEmail.reply_to,
            OutboundEmail.template,
            OutboundEmail.context,
            OutboundEmail.created_at,
        ),
        executor=connection,
    )
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
        created_at=row.created_at,
    )


def postpone(email_id: int, delay: float) -> bool:
    """Run the row's task again in `delay` seconds without claiming it (no attempt is spent);
    False when it is not pending and due (sent, held, or its own retry is scheduled later)."""
    with attempt_connection() as connection:
        return lifecycle.postpone(EMAILS, email_id, delay, where=_due(), executor=connection)


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


def record_sent(connection: Connection, email: ClaimedEmail) -> bool:
    """Mark the row sent; False if the sweep took it back meanwhile."""
    now = now_utc()
    values = {
        OutboundEmail.sent_at: now,
        OutboundEmail.updated_at: now,
        OutboundEmail.message_id: email.message_id,
        OutboundEmail.last_error: None,
    }
    return lifecycle.finish(EMAILS, email.id, EmailStatus.SENT, values, executor=connection)


def record_failure(
    connection: Connection, email: ClaimedEmail, error: BaseException
) -> lifecycle.Failure:
    """Mark the row retrying (the retry is scheduled) or failed, while it is still ours: if the
    sweep took it back and another worker sent it, this attempt's failure must not undo that."""
    values = {OutboundEmail.message_id: email.message_id, OutboundEmail.updated_at: now_utc()}
    return lifecycle.fail(
        EMAILS, email.id, email.attempts, error, values, executor=connection, age=email.age()
    )
