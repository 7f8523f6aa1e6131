"""The outbox: one row per email, the source of truth for its delivery."""

from datetime import datetime
from enum import StrEnum

from flask import current_app
from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from saas.database import now_utc
from saas.extensions import db
from saas.jobs.lifecycle import Kind
from saas.jobs.retry import RetryPolicy


class EmailStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"
    DISCARDED = "discarded"  # an operator gave up on it: final, the delivery task claims it never


PENDING = (EmailStatus.QUEUED, EmailStatus.RETRYING)


class OutboundEmail(db.Model):
    __tablename__ = "outbound_emails"
    __table_args__ = (
        Index("ix_outbound_emails_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbound_emails_sent_at", "sent_at"),
        Index("ix_outbound_emails_to_address", "to_address"),
        Index("ix_outbound_emails_template_created_at", "template", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    # The account it was sent for (None: a visitor, or us): exports select by it, not by address.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # The job run that sent it, if any: an account's console page lists the runs that touched it.
    job_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("job_runs.id", ondelete="SET NULL"), index=True
    )
    reply_to: Mapped[str | None] = mapped_column(String(254))
    template: Mapped[str] = mapped_column(String(100))
    context: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=EmailStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=now_utc)
    enqueued_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)
    sent_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<OutboundEmail {self.id} {self.template} to {self.to_address} {self.status}>"


def retry_policy() -> RetryPolicy:
    """MAIL_RETRIES quick tries, then transient failures go on at the cap until the email is
    MAIL_RETRY_FOR seconds old (0: no time budget)."""
    config = current_app.config
    return RetryPolicy(
        config["MAIL_RETRIES"],
        config["MAIL_RETRY_BASE"],
        config["MAIL_RETRY_CAP"],
        retry_for=config["MAIL_RETRY_FOR"] or None,
    )


EMAILS = Kind(
    name="email",
    model=OutboundEmail,
    status=OutboundEmail.status,
    attempts=OutboundEmail.attempts,
    lease_expires_at=OutboundEmail.lease_expires_at,
    due_at=OutboundEmail.enqueued_at,
    error=OutboundEmail.last_error,
    pending=PENDING,
    active=EmailStatus.SENDING,
    retrying=EmailStatus.RETRYING,
    failed=EmailStatus.FAILED,
    lease=lambda: current_app.config["MAIL_SEND_LEASE"],
    policy=retry_policy,
    grace=lambda: current_app.config["MAIL_SWEEP_GRACE"],
    on_requeue=lambda retry_at: {OutboundEmail.next_attempt_at: retry_at},
    born=OutboundEmail.created_at,
)
