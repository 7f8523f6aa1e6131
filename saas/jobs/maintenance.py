"""Housekeeping jobs: the sweep of every kind of durable work, run-record retention."""

from datetime import timedelta

from flask import current_app

from saas.extensions import db
from saas.jobs import heartbeat, lifecycle
from saas.jobs.models import FINISHED, JobRun
from saas.jobs.registry import RunContext, periodic


@periodic("* * * * *", catch_up="skip", overlap="skip", lease=60)
def sweep(run: RunContext) -> dict:
    """Every kind of durable work: re-enqueue rows whose task vanished, take back rows whose
    worker vanished. (The scheduler sweeps job runs on its own too: this job's own run cannot
    be recovered by itself.)"""
    counts = lifecycle.sweep_all()
    return {kind: kind_counts for kind, kind_counts in counts.items() if any(kind_counts.values())}


@periodic("30 3 * * *", catch_up="latest", overlap="skip")
def prune_job_runs(run: RunContext) -> dict:
    """Delete finished run records older than JOB_RETENTION_DAYS. Each job keeps its newest
    scheduled run, which tells the scheduler where that job's schedule stands."""
    cutoff = run.as_of - timedelta(days=current_app.config["JOB_RETENTION_DAYS"])
    newest_per_job = (
        db.select(db.func.max(JobRun.id)).where(JobRun.slot_at.is_not(None)).group_by(JobRun.job)
    )
    deleted = db.session.execute(
        db.delete(JobRun).where(
            JobRun.created_at < cutoff,
            JobRun.status.in_(FINISHED),
            JobRun.id.not_in(newest_per_job),
        )
    ).rowcount
    forgotten = heartbeat.forget_stale(timedelta(days=1))
    return {"runs_deleted": deleted, "heartbeats_forgotten": forgotten}
