"""The outbox: one row per email, the source of truth for its delivery."""

from datetime import datetime

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from saas.database import now_utc
from saas.extensions import db

QUEUED = "queued"
SENDING = "sending"
RETRYING = "retrying"
SENT = "sent"
FAILED = "failed"
PENDING = (QUEUED, RETRYING)


class OutboundEmail(db.Model):
    __tablename__ = "outbound_emails"
    __table_args__ = (
        Index("ix_outbound_emails_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    reply_to: Mapped[str | None] = mapped_column(String(254))
    template: Mapped[str] = mapped_column(String(100))
    context: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
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
