"""Running a job: the worker task that executes one run record, and the ways to create one."""

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import current_app

from saas import logs
from saas.database import now_utc
from saas.extensions import db
from saas.jobs import lifecycle
from saas.jobs.enqueue import IdOf, enqueue_after_commit
from saas.jobs.models import JOB_RUNS, JobRun, RunStatus, Trigger
from saas.jobs.registry import Job, RunContext, get_job
from saas.jobs.retry import PermanentError

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


@lifecycle.durable_task(JOB_RUNS)
def run_job(run_id: int) -> None:
    """Execute run `run_id` once: the claim is a conditional update, so a duplicate task (from
    the sweep, or a queue that delivered twice) finds it taken and does nothing."""
    context, job = _start(run_id)
    if context is None:
        return
    if job.overlap == "skip" and is_running(job.name, other_than=run_id):
        _finish(run_id, RunStatus.SKIPPED, error="the previous run of this job was still running")
        return
    # The job starts with no transaction open: a database restart while it works elsewhere
    # must not fail its (empty) commit.
    db.session.rollback()
    started = time.monotonic()
    try:
        with lifecycle.lease_kept(JOB_RUNS, run_id, lease_of(job)), running(run_id):
            result = job.func(context)
            db.session.commit()
    except Exception as error:
        db.session.rollback()
        _record_failure(context, job, error, time.monotonic() - started)
        return
    _finish(run_id, RunStatus.SUCCEEDED, result=result, duration=time.monotonic() - started)
    log.log(logs.level_for(result), "Job %s (run %s) succeeded: %s", job.name, run_id, result)


# The run whose job is executing in this thread: what it writes can name it (emails do).
CURRENT_RUN: ContextVar[int | None] = ContextVar("current_run", default=None)


def current_run_id() -> int | None:
    return CURRENT_RUN.get()


@contextmanager
def running(run_id: int) -> Iterator[None]:
    token = CURRENT_RUN.set(run_id)
    try:
        yield
    finally:
        CURRENT_RUN.reset(token)


def lease_of(job: Job) -> float:
    return job.lease or current_app.config["JOB_LEASE"]


def _start(run_id: int) -> tuple[RunContext | None, Job | None]:
    name = db.session.execute(db.select(JobRun.job).where(JobRun.id == run_id)).scalar()
    if name is None:
        db.session.rollback()
        return None, None
    try:
        job = get_job(name)
    except LookupError as unknown:  # a job removed by a deploy: fail its run, don't requeue it
        if lifecycle.claim(JOB_RUNS, run_id) is not None:
            lifecycle.fail(JOB_RUNS, run_id, 1, PermanentError(str(unknown)), _timing(None))
        return None, None
    now = now_utc()
    row = lifecycle.claim(
        JOB_RUNS,
        run_id,
        lease=lease_of(job),
        returning=(JobRun.slot_at, JobRun.trigger, JobRun.arguments),
        values={
            JobRun.started_at: now,
            JobRun.finished_at: None,
            JobRun.worker: worker_name(),
            JobRun.updated_at: now,
        },
    )
    if row is None:
        return None, None
    context = RunContext(
        run_id=run_id,
        job=name,
        slot_at=row.slot_at,
        attempt=row.attempts,
        trigger=row.trigger,
        arguments=row.arguments or {},
    )
    return context, job


def is_running(job_name: str, other_than: int | None = None) -> bool:
    """Whether a run of `job_name` (other than run `other_than`) holds a live lease."""
    query = db.select(JobRun.id).where(
        JobRun.job == job_name,
        JobRun.status == RunStatus.RUNNING,
        JobRun.lease_expires_at > now_utc(),
    )
    if other_than is not None:
        query = query.where(JobRun.id != other_than)
    return db.session.execute(query.limit(1)).first() is not None


def _timing(duration: float | None) -> dict:
    now = now_utc()
    return {
        JobRun.finished_at: now,
        JobRun.updated_at: now,
        JobRun.duration_ms: None if duration is None else round(duration * 1000),
    }


def _finish(run_id: int, status: str, *, duration: float | None = None, **values) -> None:
    changes = {getattr(JobRun, name): value for name, value in values.items()}
    lifecycle.finish(JOB_RUNS, run_id, status, {**_timing(duration), **changes})


def _record_failure(context: RunContext, job: Job, error: Exception, duration: float) -> None:
    failure = lifecycle.fail(
        JOB_RUNS, context.run_id, context.attempt, error, _timing(duration), policy=job.retry
    )
    if failure.status == RunStatus.RETRYING:
        log.warning(
            "Job %s (run %s) failed: %s; retry in %.0fs",
            job.name,
            context.run_id,
            failure.error,
            failure.retry_in,
        )
    elif failure.status == RunStatus.FAILED:
        log.error("Job %s (run %s) failed for good: %s", job.name, context.run_id, failure.error)
    else:
        log.warning("Job %s (run %s) failed after the sweep took it back", job.name, context.run_id)


def create_manual_run(name: str, by: int | None = None, arguments: dict | None = None) -> JobRun:
    """An ad hoc run of `name`, recorded as such (with the admin who asked, if one did, and the
    task's arguments, validated: ValueError says what is wrong); it claims no slot."""
    parsed = get_job(name).parse_arguments(arguments or {})
    run = JobRun(
        job=name,
        trigger=Trigger.MANUAL,
        status=RunStatus.ENQUEUED,
        enqueued_at=now_utc(),
        triggered_by=by,
        arguments=parsed or None,
        user_id=parsed.get("user_id"),
    )
    db.session.add(run)
    return run


def enqueue_manual_run(name: str, by: int | None = None, arguments: dict | None = None) -> JobRun:
    """An ad hoc run for the worker, enqueued after the caller's commit."""
    run = create_manual_run(name, by, arguments)
    enqueue_after_commit(run_job, IdOf(run))
    return run


def run_inline(name: str, arguments: dict | None = None) -> JobRun:
    """An ad hoc run executed in this process, exactly as the worker would run it."""
    run = create_manual_run(name, arguments=arguments)
    db.session.commit()
    run_id = run.id
    run_job.call_local(run_id)
    return db.session.get(JobRun, run_id, populate_existing=True)
