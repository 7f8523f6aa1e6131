"""The scheduler: any number of replicas turn cron slots into run records and tasks.

Each tick, for every periodic job, a replica computes the slots due since the job's newest
recorded slot (at most `catch_up_window` back), applies the job's catch-up policy, and inserts
one run record per slot under the unique (job, slot_at) constraint with ON CONFLICT DO NOTHING.
Only the replica whose insert wins enqueues the task, after its commit. A replica that dies
between that commit and the enqueue leaves an "enqueued" run with no task: the sweep, which
every replica runs, enqueues it again; the run's conditional start keeps a doubled task from
running twice."""

import logging
import signal
import threading
from datetime import datetime, timedelta

from flask import current_app

from saas.database import database_unavailable, now_utc
from saas.extensions import db, insert_on_conflict
from saas.jobs import clock, heartbeat, lifecycle
from saas.jobs.control import controls
from saas.jobs.enqueue import enqueue_after_commit
from saas.jobs.models import JOB_RUNS, JobControl, JobRun, RunStatus, Trigger
from saas.jobs.outage import Outage, reset_session
from saas.jobs.registry import REGISTRY, Job
from saas.jobs.runner import is_running, run_job

log = logging.getLogger(__name__)


def periodic_jobs() -> list[Job]:
    return [job for job in REGISTRY.values() if job.cron]


def misfire_grace() -> timedelta:
    """How late a slot may be noticed and still count as on time (not missed)."""
    return timedelta(seconds=max(60.0, 3 * current_app.config["SCHEDULER_TICK"]))


def missed_because(job: Job, slot: datetime, control: JobControl | None) -> str:
    was_paused = control and control.paused_at and control.paused_at <= slot
    if was_paused and (control.resumed_at is None or slot <= control.resumed_at):
        return f"missed while the job was paused (catch_up={job.catch_up})"
    return f"missed while no scheduler ran (catch_up={job.catch_up})"


def plan(
    job: Job, now: datetime, control: JobControl | None = None
) -> list[tuple[datetime, str, str | None]]:
    """The slots to record for `job` at `now`: (slot, status, reason), oldest first."""
    # The newest slot the scheduler itself recorded: a slot an admin ran by hand (Run slot X)
    # must not make the missed slots before it look done. Those it claimed are not doubled: the
    # inserts below do nothing on (job, slot_at) conflicts.
    newest = db.session.execute(
        db.select(db.func.max(JobRun.slot_at)).where(
            JobRun.job == job.name, JobRun.trigger == Trigger.SCHEDULED
        )
    ).scalar_one()
    # A job never scheduled before starts now: no backfill of a history it never had.
    floor = now - (job.catch_up_window if newest else misfire_grace())
    after = max(newest, floor) if newest else floor
    due = list(job.slots(after, now, current_app.config["SCHEDULER_TIMEZONE"]))
    if not due:
        return []
    if job.catch_up == "all":
        chosen = due
    elif job.catch_up == "latest":
        chosen = due[-1:]
    else:  # skip: only a slot that is on time
        chosen = [slot for slot in due[-1:] if now - slot <= misfire_grace()]
    return [
        (slot, RunStatus.ENQUEUED, None)
        if slot in chosen
        else (slot, RunStatus.SKIPPED, missed_because(job, slot, control))
        for slot in due
    ]


def claim(job: Job, now: datetime, control: JobControl | None = None) -> list[int]:
    """Record `job`'s due slots; returns the ids of the runs this replica won and must enqueue.
    The caller commits, then the tasks go out (enqueue_after_commit). A paused job records
    nothing: once resumed, the slots it missed follow its catch-up policy."""
    if control is not None and control.paused:
        return []
    planned = plan(job, now, control)
    if not planned:
        return []
    if job.overlap == "skip" and is_running(job.name):
        busy = "the previous run of this job was still running"
        planned = [(slot, RunStatus.SKIPPED, reason or busy) for slot, _status, reason in planned]
    stamp = now_utc()
    rows = [
        {
            "job": job.name,
            "slot_at": slot,
            "status": status,
            "error": reason,
            "enqueued_at": stamp if status == RunStatus.ENQUEUED else None,
            "finished_at": stamp if status == RunStatus.SKIPPED else None,
            "created_at": stamp,
            "updated_at": stamp,
        }
        for slot, status, reason in planned
    ]
    won = db.session.execute(
        insert_on_conflict(JobRun)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["job", "slot_at"])
        .returning(JobRun.id, JobRun.status, JobRun.slot_at)
    ).all()
    enqueued = [row.id for row in won if row.status == RunStatus.ENQUEUED]
    for run_id in enqueued:
        enqueue_after_commit(run_job, run_id)
    for row in won:  # a slot enqueued is routine (its run logs what it did); a skip is news
        level = logging.DEBUG if row.status == RunStatus.ENQUEUED else logging.INFO
        log.log(level, "Job %s slot %s: %s", job.name, row.slot_at.isoformat(), row.status)
    return enqueued


def tick(now: datetime | None = None) -> list[int]:
    """One pass over every periodic job; each job commits on its own. A job whose claim fails
    is logged and the others go on; a database that cannot be reached ends the tick (an
    outage, which the loop logs once), and a later tick catches the slots up."""
    now = now or clock.now()
    enqueued = []
    switches = controls()
    for job in periodic_jobs():
        try:
            enqueued += claim(job, now, switches.get(job.name))
            db.session.commit()
        except Exception as error:
            reset_session()
            if database_unavailable(error):
                raise
            log.exception("Scheduling %s failed; the next tick tries again", job.name)
    return enqueued


def sweep() -> dict[str, int]:
    """Re-enqueue runs whose task vanished, take back runs whose worker died. The caller commits."""
    return lifecycle.sweep(JOB_RUNS)


class Loop:
    """The scheduler process's state between ticks: its name, when it next sweeps, its outage."""

    def __init__(self, config):
        self.config = config
        self.name = heartbeat.process_name()
        self.next_sweep = 0.0
        tick_seconds = config["SCHEDULER_TICK"]
        cap = config["OUTAGE_BACKOFF_CAP"]
        self.outage = Outage("Scheduler tick", log, base=tick_seconds, cap=cap)

    def once(self) -> None:
        """Heartbeat, tick, and sweep when it is time; raises what failed."""
        heartbeat.beat("scheduler", self.name)
        db.session.commit()
        tick()
        if now_utc().timestamp() >= self.next_sweep:
            counts = sweep()
            db.session.commit()
            if any(counts.values()):
                log.info("Job sweep: %s", counts)
            self.next_sweep = now_utc().timestamp() + self.config["SCHEDULER_SWEEP_INTERVAL"]

    def step(self) -> float:
        """One guarded pass; returns how long to wait before the next (longer during an outage)."""
        try:
            self.once()
        except Exception as error:
            return self.outage.failed(error)
        finally:
            reset_session()
        self.outage.recovered()
        return self.config["SCHEDULER_TICK"]


def run_forever(stop: threading.Event | None = None) -> None:
    """The `scheduler` process: heartbeat, tick and sweep until SIGTERM/SIGINT; no outage of the
    database or the queue ends it."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    loop = Loop(current_app.config)
    jobs = ", ".join(f"{job.name} ({job.cron})" for job in periodic_jobs())
    timezone = current_app.config["SCHEDULER_TIMEZONE"]
    log.info("Scheduler %s started (%s): %s", loop.name, timezone, jobs)
    while not stop.is_set():
        stop.wait(loop.step())
    log.info("Scheduler %s stopped", loop.name)
