"""Outbox attempts through the durable-work lifecycle, on its autocommit fast path.

An attempt's transitions (claim, record_sent, record_failure) are single statements that commit
on their own, each on a pooled connection checked out for it: no connection is held while the
SMTP server takes its time, so a worker's threads need a few connections, not one each. The
outcome is written one round trip after the SMTP server answers, which keeps the window in
which a killed worker causes a duplicate short. If the database drops meanwhile, the lifecycle
writes the outcome again on a fresh connection once it is back. While the mail server is down
(the breaker is open) an attempt is not even claimed: `postpone` puts the task back."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import Message

from sqlalchemy.exc import SQLAlchemyError

from saas.database import now_utc
from saas.jobs import lifecycle
from saas.mail.models import EMAILS, EmailStatus, OutboundEmail
from saas.mail.rendering import render_email
from saas.mail.transport import build_message, stable_message_id

log = logging.getLogger(__name__)

NO_ROW = -1  # ids start at 1


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


def _due_by() -> datetime:
    """A row due within the second is taken now: its task may run a moment early."""
    return now_utc() + timedelta(seconds=1)


def claim(email_id: int) -> ClaimedEmail | None:
    """Take the row for one attempt, if it is pending and due."""
    row = lifecycle.claim(
        EMAILS,
        email_id,
        due_by=_due_by(),
        returning=(
            OutboundEmail.to_address,
            OutboundEmail.reply_to,
            OutboundEmail.template,
            OutboundEmail.context,
            OutboundEmail.created_at,
        ),
        autocommit=True,
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
    return lifecycle.postpone(EMAILS, email_id, delay, due_by=_due_by(), autocommit=True)


def prepare(email: ClaimedEmail) -> Message:
    """Render the claimed row into a message with its stable Message-ID."""
    rendered = render_email(email.template, email.context)
    return build_message(
        to=email.to_address, rendered=rendered, reply_to=email.reply_to, message_id=email.message_id
    )


def record_sent(email: ClaimedEmail) -> bool:
    """Mark the row sent; False if the sweep took it back meanwhile."""
    now = now_utc()
    values = {
        OutboundEmail.sent_at: now,
        OutboundEmail.updated_at: now,
        OutboundEmail.message_id: email.message_id,
        OutboundEmail.last_error: None,
    }
    return lifecycle.finish(EMAILS, email.id, EmailStatus.SENT, values, autocommit=True)


def record_failure(email: ClaimedEmail, error: BaseException) -> lifecycle.Failure:
    """Mark the row retrying (the retry is scheduled) or failed, while it is still ours: if the
    sweep took it back and another worker sent it, this attempt's failure must not undo that."""
    values = {OutboundEmail.message_id: email.message_id, OutboundEmail.updated_at: now_utc()}
    return lifecycle.fail(
        EMAILS, email.id, email.attempts, error, values, autocommit=True, age=email.age()
    )


def prime() -> None:
    """Build and compile an attempt's claim and outcome statements, and open a pooled
    connection, by running them on a row that does not exist: done while a worker starts, not by
    the first threads of its first burst while all the others wait for their turns (15-20 ms of
    a drain's start, bench.drain). Best effort: if the database is not there yet, the first
    attempts do it."""
    try:
        claim(NO_ROW)
        record_sent(
            ClaimedEmail(
                id=NO_ROW,
                to_address="",
                reply_to=None,
                template="",
                context={},
                attempts=0,
                message_id="",
                created_at=now_utc(),
            )
        )
    except SQLAlchemyError as error:
        cause = getattr(error, "orig", None) or error  # the driver's, not SQLAlchemy's long text
        log.warning(
            "Outbox statements not primed (%s): the first attempts will", type(cause).__name__
        )
