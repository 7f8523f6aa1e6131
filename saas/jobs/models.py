"""Run records (one per job run; a scheduled run's row is also the claim on its slot) and the
heartbeats of scheduler and worker processes."""

from datetime import datetime

from sqlalchemy import JSON, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from saas.database import now_utc
from saas.extensions import db

ENQUEUED = "enqueued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
RETRYING = "retrying"
SKIPPED = "skipped"
STARTABLE = (ENQUEUED, RETRYING)
FINISHED = (SUCCEEDED, FAILED, SKIPPED)

SCHEDULED = "scheduled"  # a cron slot
MANUAL = "manual"  # flask jobs run, the admin console


class JobRun(db.Model):
    __tablename__ = "job_runs"
    __table_args__ = (
        # The exactly-once claim: one row per (job, slot). Ad hoc runs have no slot, and NULLs
        # never collide.
        UniqueConstraint("job", "slot_at", name="uq_job_runs_job_slot_at"),
        Index("ix_job_runs_status_updated_at", "status", "updated_at"),
        Index("ix_job_runs_job_created_at", "job", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(100))
    slot_at: Mapped[datetime | None]
    trigger: Mapped[str] = mapped_column(String(16), default=SCHEDULED)
    status: Mapped[str] = mapped_column(String(16), default=ENQUEUED)
    attempt: Mapped[int] = mapped_column(default=0)
    enqueued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None]
    lease_expires_at: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(String(200))
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    def __repr__(self) -> str:
        return f"<JobRun {self.id} {self.job} {self.slot_at} {self.status}>"


class Heartbeat(db.Model):
    __tablename__ = "heartbeats"
    __table_args__ = (UniqueConstraint("kind", "name", name="uq_heartbeats_kind_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "scheduler" | "worker"
    name: Mapped[str] = mapped_column(String(200))  # host:pid
    started_at: Mapped[datetime] = mapped_column(default=now_utc)
    last_seen_at: Mapped[datetime] = mapped_column(default=now_utc)
