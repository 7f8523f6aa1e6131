"""Running a job: the worker task that executes one run record, and the ways to create one."""

import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from flask import current_app

from saas.database import now_utc
from saas.extensions import db, huey
from saas.jobs.enqueue import IdOf, enqueue_after_commit
from saas.jobs.models import (
    ENQUEUED,
    FAILED,
    MANUAL,
    RETRYING,
    RUNNING,
    SKIPPED,
    STARTABLE,
    SUCCEEDED,
    JobRun,
)
from saas.jobs.registry import RunContext, get_job

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


@huey.task()
def run_job(run_id: int) -> None:
    """Execute run `run_id` once: a conditional update starts it, so a duplicate task (from the
    sweep, or a queue that delivered twice) finds it taken and does nothing."""
    context = _start(run_id)
    if context is None:
        return
    job = get_job(context.job)
    if context.attempt > job.retry.retries + 1:
        # Only a run whose workers kept dying gets here (the sweep took it back each time).
        _finish(run_id, FAILED, error=f"gave up after {context.attempt - 1} attempts")
        return
    if job.overlap == "skip" and is_running(context.job, other_than=run_id):
        _finish(run_id, SKIPPED, error="the previous run of this job was still running")
        return
    started = time.monotonic()
    try:
        with _lease_kept_alive(run_id):
            result = job.func(context)
        db.session.commit()
    except Exception as error:
        db.session.rollback()
        _record_failure(context, job, error, time.monotonic() - started)
        return
    _finish(run_id, SUCCEEDED, result=result, duration=time.monotonic() - started)
    log.info("Job %s (run %s) succeeded: %s", context.job, run_id, result)


@contextmanager
def _lease_kept_alive(run_id: int) -> Iterator[None]:
    """Extend the run's lease every third of JOB_LEASE while it runs, so only a run whose
    worker died is taken back by the sweep, however long the job takes."""
    app = current_app._get_current_object()
    lease = app.config["JOB_LEASE"]
    done = threading.Event()

    def renew() -> None:
        while not done.wait(lease / 3):
            with app.app_context():
                try:
                    db.session.execute(
                        db.update(JobRun)
                        .where(JobRun.id == run_id, JobRun.status == RUNNING)
                        .values(lease_expires_at=now_utc() + timedelta(seconds=lease))
                        .execution_options(synchronize_session=False)
                    )
                    db.session.commit()
                except Exception:
                    db.session.rollback()
                    log.exception("Could not renew the lease of run %s", run_id)

    renewer = threading.Thread(target=renew, name=f"lease-{run_id}", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        done.set()


def _start(run_id: int) -> RunContext | None:
    now = now_utc()
    lease = timedelta(seconds=current_app.config["JOB_LEASE"])
    row = db.session.execute(
        db.update(JobRun)
        .where(JobRun.id == run_id, JobRun.status.in_(STARTABLE))
        .values(
            status=RUNNING,
            attempt=JobRun.attempt + 1,
            started_at=now,
            finished_at=None,
            lease_expires_at=now + lease,
            worker=worker_name(),
            updated_at=now,
        )
        .returning(JobRun.job, JobRun.slot_at, JobRun.attempt, JobRun.trigger)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    db.session.commit()
    if row is None:
        return None
    return RunContext(
        run_id=run_id, job=row.job, slot_at=row.slot_at, attempt=row.attempt, trigger=row.trigger
    )


def is_running(job_name: str, other_than: int | None = None) -> bool:
    """Whether a run of `job_name` (other than run `other_than`) holds a live lease."""
    query = db.select(JobRun.id).where(
        JobRun.job == job_name, JobRun.status == RUNNING, JobRun.lease_expires_at > now_utc()
    )
    if other_than is not None:
        query = query.where(JobRun.id != other_than)
    return db.session.execute(query.limit(1)).first() is not None


def _finish(run_id: int, status: str, *, duration: float | None = None, **values) -> None:
    now = now_utc()
    db.session.execute(
        db.update(JobRun)
        .where(JobRun.id == run_id)
        .values(
            status=status,
            finished_at=now,
            updated_at=now,
            lease_expires_at=None,
            duration_ms=None if duration is None else round(duration * 1000),
            **values,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _record_failure(context: RunContext, job, error: Exception, duration: float) -> None:
    message = f"{type(error).__name__}: {error}"[:2000]
    details = traceback.format_exc()[-20000:]
    if job.retry.should_retry(context.attempt, error):
        delay = job.retry.delay(context.attempt)
        retry_at = now_utc() + timedelta(seconds=delay)
        _finish(
            context.run_id,
            RETRYING,
            duration=duration,
            error=message,
            traceback=details,
            enqueued_at=retry_at,  # when the sweep should expect it to have started
        )
        run_job.schedule((context.run_id,), delay=delay)
        log.warning(
            "Job %s (run %s) failed: %s; retry in %.0fs", job.name, context.run_id, message, delay
        )
    else:
        _finish(context.run_id, FAILED, duration=duration, error=message, traceback=details)
        log.error("Job %s (run %s) failed for good: %s", job.name, context.run_id, message)


def create_manual_run(name: str) -> JobRun:
    """An ad hoc run of `name`, recorded as such; it claims no slot."""
    get_job(name)
    run = JobRun(job=name, trigger=MANUAL, status=ENQUEUED, enqueued_at=now_utc())
    db.session.add(run)
    return run


def enqueue_manual_run(name: str) -> JobRun:
    """An ad hoc run for the worker, enqueued after the caller's commit."""
    run = create_manual_run(name)
    enqueue_after_commit(run_job, IdOf(run))
    return run


def run_inline(name: str) -> JobRun:
    """An ad hoc run executed in this process, exactly as the worker would run it."""
    run = create_manual_run(name)
    db.session.commit()
    run_id = run.id
    run_job.call_local(run_id)
    return db.session.get(JobRun, run_id, populate_existing=True)
