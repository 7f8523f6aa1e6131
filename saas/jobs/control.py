"""An operator's hands on the schedule: pause and resume a job (every scheduler replica reads
the switch each tick), and run one past slot that was missed or skipped, claiming it so it never
runs twice. The admin console and the CLI call these; the caller commits."""

from datetime import datetime

from flask import current_app

from saas.database import now_utc
from saas.extensions import db, insert_on_conflict
from saas.jobs import clock
from saas.jobs.enqueue import enqueue_after_commit
from saas.jobs.lifecycle import Refused
from saas.jobs.models import NOT_RUN, JobControl, JobRun, RunStatus, Trigger
from saas.jobs.registry import REGISTRY, Job
from saas.jobs.runner import run_job


def periodic_job(name: str) -> Job:
    job = REGISTRY.get(name)
    if job is None or not job.cron:
        raise LookupError(f"No scheduled job is called {name!r}.")
    return job


def controls() -> dict[str, JobControl]:
    """Every job's switch, detached: read once per scheduler tick, not again after each commit."""
    found = db.session.execute(db.select(JobControl)).scalars().all()
    for control in found:
        db.session.expunge(control)
    return {control.job: control for control in found}


def pause(name: str, *, by: int | None) -> str:
    """Pause a periodic job; pausing a paused job changes nothing (and says so)."""
    periodic_job(name)
    control = db.session.get(JobControl, name) or JobControl(job=name)
    if control.paused:
        return f"{name} was already paused; nothing changed."
    control.paused, control.paused_at, control.paused_by = True, clock.now(), by
    db.session.add(control)
    return f"{name} is paused: no scheduler replica starts its slots until it is resumed."


def resume(name: str, *, by: int | None) -> str:
    periodic_job(name)
    control = db.session.get(JobControl, name)
    if control is None or not control.paused:
        return f"{name} was not paused; nothing changed."
    control.paused, control.resumed_at = False, clock.now()
    policy = REGISTRY[name].catch_up
    return f"{name} is resumed; the slots it missed follow its catch-up policy ({policy})."


def run_slot(name: str, slot_at: datetime, *, by: int | None) -> JobRun:
    """Run a past slot that was skipped, discarded by an operator, or never recorded: claims the
    slot's row (the same unique (job, slot_at) the scheduler claims under), so it runs once
    however often asked."""
    job = periodic_job(name)
    if slot_at > clock.now() or not job.is_slot(slot_at, current_app.config["SCHEDULER_TIMEZONE"]):
        raise Refused(f"{slot_at.isoformat()} is not a past slot of {name}.")
    values = {
        "status": RunStatus.ENQUEUED,
        "trigger": Trigger.MANUAL,
        "triggered_by": by,
        "enqueued_at": now_utc(),
        "finished_at": None,
        "error": None,
        # A discarded run starts afresh: its attempts spent, its last error and result gone.
        "attempt": 0,
        "lease_expires_at": None,
        "traceback": None,
        "result": None,
    }
    run_id = db.session.execute(
        db.update(JobRun)
        .where(JobRun.job == name, JobRun.slot_at == slot_at, JobRun.status.in_(NOT_RUN))
        .values(**values)
        .returning(JobRun.id)
    ).scalar_one_or_none()
    if run_id is None:
        run_id = _claim_unrecorded(name, slot_at, values)
    enqueue_after_commit(run_job, run_id)
    return db.session.get(JobRun, run_id)


def _claim_unrecorded(name: str, slot_at: datetime, values: dict) -> int:
    stamp = now_utc()
    run_id = db.session.execute(
        insert_on_conflict(JobRun)
        .values(job=name, slot_at=slot_at, created_at=stamp, updated_at=stamp, **values)
        .on_conflict_do_nothing(index_elements=["job", "slot_at"])
        .returning(JobRun.id)
    ).scalar_one_or_none()
    if run_id is None:
        existing = db.session.execute(
            db.select(JobRun).where(JobRun.job == name, JobRun.slot_at == slot_at)
        ).scalar_one()
        raise Refused(
            f"The slot {slot_at.isoformat()} of {name} already has run #{existing.id} "
            f"({existing.status}); it is not run twice."
        )
    return run_id
