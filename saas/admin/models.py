"""The audit log: every admin action, allowed or refused. Append-only: no route edits or deletes
a row, and the database refuses UPDATE and DELETE on the table (migration 0008)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from saas.database import now_utc
from saas.extensions import db


class Outcome(StrEnum):
    DONE = "done"
    REFUSED = "refused"  # wrong state, unknown id, bad arguments: nothing changed


class AuditEntry(db.Model):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_created_at", "created_at"),
        Index("ix_audit_log_actor_id", "actor_id"),
        Index("ix_audit_log_target", "target_type", "target_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    # No foreign key: deleting a user must not rewrite the log; the email stays beside the id.
    actor_id: Mapped[int | None]
    actor_email: Mapped[str | None] = mapped_column(String(254))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(100))
    arguments: Mapped[dict] = mapped_column(JSON, default=dict)
    outcome: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
