"""Run records (one per job run; a scheduled run's row is also the claim on its slot) and the
heartbeats of scheduler and worker processes."""

from datetime import datetime
from enum import StrEnum

from flask import current_app
from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from saas.database import now_utc
from saas.extensions import db
from saas.jobs.lifecycle import Kind
from saas.jobs.registry import DEFAULT_JOB_RETRY


class RunStatus(StrEnum):
    ENQUEUED = "enqueued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    DISCARDED = "discarded"  # an operator gave up on it (failed, or revoked while queued)


STARTABLE = (RunStatus.ENQUEUED, RunStatus.RETRYING)
FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SKIPPED, RunStatus.DISCARDED)
# A slot whose run did not happen: an admin may still run it, once (control.run_slot).
NOT_RUN = (RunStatus.SKIPPED, RunStatus.DISCARDED)


class Trigger(StrEnum):
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
        Index("ix_job_runs_finished_at", "finished_at"),
        Index("ix_job_runs_status_job_id", "status", "job", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(100))
    slot_at: Mapped[datetime | None]
    trigger: Mapped[str] = mapped_column(String(16), default=Trigger.SCHEDULED)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.ENQUEUED)
    attempt: Mapped[int] = mapped_column(default=0)
    enqueued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None]
    lease_expires_at: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(String(200))
    triggered_by: Mapped[int | None]  # the admin's user id, for a run started from the console
    arguments: Mapped[dict | None] = mapped_column(JSON)  # a task's validated arguments
    # The account a per-user task was about: its page lists the runs that touched it.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    def __repr__(self) -> str:
        return f"<JobRun {self.id} {self.job} {self.slot_at} {self.status}>"


JOB_RUNS = Kind(
    name="job_run",
    model=JobRun,
    status=JobRun.status,
    attempts=JobRun.attempt,
    lease_expires_at=JobRun.lease_expires_at,
    due_at=JobRun.enqueued_at,
    error=JobRun.error,
    traceback=JobRun.traceback,
    pending=STARTABLE,
    active=RunStatus.RUNNING,
    retrying=RunStatus.RETRYING,
    failed=RunStatus.FAILED,
    lease=lambda: current_app.config["JOB_LEASE"],
    # Each job may have its own policy (the runner passes it); the sweep gives up after this one's.
    policy=lambda: DEFAULT_JOB_RETRY,
    grace=lambda: current_app.config["SCHEDULER_ENQUEUE_GRACE"],
)


class JobControl(db.Model):
    """An operator's switch on a job: paused jobs get no new slots on any scheduler replica."""

    __tablename__ = "job_controls"

    job: Mapped[str] = mapped_column(String(100), primary_key=True)
    paused: Mapped[bool] = mapped_column(default=False)
    paused_at: Mapped[datetime | None]
    paused_by: Mapped[int | None]
    resumed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)


class Heartbeat(db.Model):
    __tablename__ = "heartbeats"
    __table_args__ = (UniqueConstraint("kind", "name", name="uq_heartbeats_kind_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "scheduler" | "worker"
    name: Mapped[str] = mapped_column(String(200))  # host:pid
    started_at: Mapped[datetime] = mapped_column(default=now_utc)
    last_seen_at: Mapped[datetime] = mapped_column(default=now_utc)
    # A worker's threads busy at its last beat: [{thread, task, args, since}].
    running: Mapped[list | None] = mapped_column(JSON)
