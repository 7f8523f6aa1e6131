"""The scheduler's claims and policies, run records, the sweep and the jobs CLI (in process,
with the clock passed in)."""

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from saas.database import now_utc
from saas.extensions import db, huey
from saas.jobs import heartbeat, scheduler
from saas.jobs.models import JobRun
from saas.jobs.outage import Outage
from saas.jobs.registry import REGISTRY, Job
from saas.jobs.retry import RetryPolicy
from saas.jobs.runner import enqueue_manual_run, run_job
from tests.support.waiting import wait_until

MIDNIGHT = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)


def runs(app, job: str) -> list[JobRun]:
    with app.app_context():
        return (
            db.session.execute(db.select(JobRun).where(JobRun.job == job).order_by(JobRun.slot_at))
            .scalars()
            .all()
        )


def record_slot(app, job: str, slot: datetime, status: str = "succeeded") -> None:
    """A run from before the outage: where the job's schedule stood."""
    with app.app_context():
        db.session.add(JobRun(job=job, slot_at=slot, status=status))
        db.session.commit()


@pytest.fixture
def daily_jobs():
    """Three daily jobs at 00:00, one per catch-up policy, catching up a week at most."""
    jobs = {
        policy: Job(
            name=f"daily_{policy}",
            func=lambda run: None,
            cron="0 0 * * *",
            catch_up=policy,
            catch_up_window=timedelta(days=7),
        )
        for policy in ("latest", "skip", "all")
    }
    REGISTRY.update({job.name: job for job in jobs.values()})
    yield jobs
    for job in jobs.values():
        REGISTRY.pop(job.name)


def claim_at(app, job: Job, now: datetime) -> list[int]:
    with app.app_context():
        won = scheduler.claim(job, now)
        db.session.commit()
        return won


def test_downtime_across_three_midnights_applies_each_catch_up_policy(app, daily_jobs):
    last = MIDNIGHT - timedelta(days=3)
    for job in daily_jobs.values():
        record_slot(app, job.name, last)
    back_at = MIDNIGHT + timedelta(hours=2)  # the schedulers come back two hours late

    assert len(claim_at(app, daily_jobs["latest"], back_at)) == 1
    assert claim_at(app, daily_jobs["skip"], back_at) == []
    assert len(claim_at(app, daily_jobs["all"], back_at)) == 3

    statuses = {policy: [r.status for r in runs(app, f"daily_{policy}")] for policy in daily_jobs}
    assert statuses["latest"] == ["succeeded", "skipped", "skipped", "enqueued"]
    assert statuses["skip"] == ["succeeded", "skipped", "skipped", "skipped"]
    assert statuses["all"] == ["succeeded", "enqueued", "enqueued", "enqueued"]
    assert "missed while no scheduler ran" in runs(app, "daily_skip")[-1].error
    # Every replica that comes back later finds the slots taken.
    for job in daily_jobs.values():
        assert claim_at(app, job, back_at + timedelta(minutes=5)) == []
    assert huey.pending_count() == 4


def test_catch_up_is_limited_to_the_window(app, daily_jobs):
    record_slot(app, "daily_all", MIDNIGHT - timedelta(days=10))
    assert len(claim_at(app, daily_jobs["all"], MIDNIGHT + timedelta(minutes=1))) == 7
    default_window = Job(name="daily_all", func=lambda run: None, cron="0 0 * * *", catch_up="all")
    assert claim_at(app, default_window, MIDNIGHT + timedelta(days=3, minutes=1)) == [
        r.id for r in runs(app, "daily_all")[-1:]
    ]
    assert runs(app, "daily_all")[-1].slot_at == MIDNIGHT + timedelta(days=3)


def test_a_slot_is_run_on_time_by_every_policy(app, daily_jobs):
    for job in daily_jobs.values():
        record_slot(app, job.name, MIDNIGHT - timedelta(days=1))
        assert len(claim_at(app, job, MIDNIGHT + timedelta(seconds=20))) == 1


def test_a_job_never_scheduled_before_starts_now_without_backfill(app, daily_jobs):
    assert claim_at(app, daily_jobs["all"], MIDNIGHT + timedelta(hours=5)) == []
    assert len(claim_at(app, daily_jobs["all"], MIDNIGHT + timedelta(seconds=10))) == 1


def test_overlap_skip_records_a_skipped_slot_while_the_previous_run_is_running(app, daily_jobs):
    record_slot(app, "daily_latest", MIDNIGHT - timedelta(days=1), status="running")
    with app.app_context():
        run = db.session.execute(db.select(JobRun)).scalar_one()
        run.lease_expires_at = now_utc() + timedelta(minutes=5)
        db.session.commit()
    assert claim_at(app, daily_jobs["latest"], MIDNIGHT + timedelta(seconds=5)) == []
    skipped = runs(app, "daily_latest")[-1]
    assert (skipped.status, skipped.slot_at) == ("skipped", MIDNIGHT)
    assert "still running" in skipped.error


def test_a_failing_job_is_recorded_with_its_error_and_traceback(app, run_queued_tasks):
    def explode(run):
        raise RuntimeError("the report server is down")

    REGISTRY["explode"] = Job(name="explode", func=explode, retry=RetryPolicy(retries=0))
    try:
        result = app.test_cli_runner().invoke(args=["jobs", "run", "explode"])
        assert result.exit_code == 0, result.output
        assert run_queued_tasks() == 1
        [run] = runs(app, "explode")
        assert (run.status, run.trigger, run.attempt, run.slot_at) == ("failed", "manual", 1, None)
        assert run.error == "RuntimeError: the report server is down"
        assert "Traceback" in run.traceback and "explode" in run.traceback
        assert run.duration_ms is not None and run.worker
    finally:
        REGISTRY.pop("explode")


def test_the_sweep_reenqueues_lost_runs_and_takes_back_abandoned_ones(app):
    with app.app_context():
        old = now_utc() - timedelta(hours=1)
        lost = JobRun(job="sweep", slot_at=MIDNIGHT, status="enqueued", enqueued_at=old)
        dead = JobRun(
            job="sweep",
            slot_at=MIDNIGHT + timedelta(minutes=1),
            status="running",
            attempt=1,
            lease_expires_at=old,
        )
        db.session.add_all([lost, dead])
        db.session.commit()
        assert scheduler.sweep() == {"requeued": 1, "reclaimed": 1, "failed": 0}
        db.session.commit()
        assert huey.pending_count() == 2
        assert scheduler.sweep() == {"requeued": 0, "reclaimed": 0, "failed": 0}
    assert [r.status for r in runs(app, "sweep")] == ["enqueued", "retrying"]


def test_jobs_list_shows_cron_next_runs_and_the_last_run(app, runner):
    record_slot(app, "mark_expiring_cards", MIDNIGHT)
    output = runner.invoke(args=["jobs", "list"]).output
    block = output.split("mark_expiring_cards\n")[1].split("\n\n")[0]
    assert "0 0 * * * (UTC)" in block
    assert "catch_up=latest overlap=skip" in block
    assert block.count(" 00:00 UTC") >= 3
    assert "succeeded (scheduled" in block
    assert "0 1 * * 2#2" in output


def test_jobs_run_records_an_ad_hoc_run_without_claiming_a_slot(app, runner, run_queued_tasks):
    result = runner.invoke(args=["jobs", "run", "mark_expiring_cards"])
    assert "Enqueued run #" in result.output
    assert run_queued_tasks() == 1
    [run] = runs(app, "mark_expiring_cards")
    assert (run.trigger, run.slot_at, run.status) == ("manual", None, "succeeded")
    assert run.result == {"flags_changed": 0, "emails": 0}


def test_jobs_run_refuses_an_unknown_job(runner):
    result = runner.invoke(args=["jobs", "run", "nope"])
    assert result.exit_code != 0
    assert "No job named 'nope'" in result.output


@pytest.mark.app_config(JOB_LEASE=1.2)
def test_a_long_run_keeps_its_lease_so_the_sweep_leaves_it_alone(app, run_queued_tasks):
    def slow(run):
        time.sleep(3.0)  # well past the lease: only the renewals keep it
        with app.app_context():
            assert scheduler.sweep()["reclaimed"] == 0  # the lease was renewed meanwhile
            db.session.commit()

    REGISTRY["slow"] = Job(name="slow", func=slow)
    try:
        with app.app_context():
            enqueue_manual_run("slow")
            db.session.commit()
        run_queued_tasks()
        [run] = runs(app, "slow")
        assert (run.status, run.attempt) == ("succeeded", 1)
    finally:
        REGISTRY.pop("slow")


def test_a_run_whose_workers_keep_dying_is_failed_after_its_retries(app):
    with app.app_context():
        expired = now_utc() - timedelta(seconds=1)
        run = JobRun(job="sweep", status="running", attempt=4, lease_expires_at=expired)
        db.session.add(run)
        db.session.commit()
        assert scheduler.sweep() == {"requeued": 0, "reclaimed": 0, "failed": 1}
        db.session.commit()
        assert huey.pending_count() == 0
    [run] = runs(app, "sweep")
    assert run.status == "failed"
    assert run.error == "the worker was lost during this attempt (its lease expired)"


def test_a_run_that_starts_while_another_of_its_job_is_running_is_skipped(app, run_queued_tasks):
    with app.app_context():
        db.session.add(
            JobRun(
                job="sweep",
                slot_at=MIDNIGHT,
                status="running",
                lease_expires_at=now_utc() + timedelta(minutes=5),
            )
        )
        enqueue_manual_run("sweep")
        db.session.commit()
    run_queued_tasks()
    manual = [r for r in runs(app, "sweep") if r.trigger == "manual"]
    assert [(r.status, r.error) for r in manual] == [
        ("skipped", "the previous run of this job was still running")
    ]


def test_a_run_of_a_job_that_no_longer_exists_fails_instead_of_coming_back(app):
    with app.app_context():
        run = JobRun(job="retired_job", status="enqueued", enqueued_at=now_utc())
        db.session.add(run)
        db.session.commit()
        run_job.call_local(run.id)
        assert huey.pending_count() == 0 and huey.scheduled() == []
    [run] = runs(app, "retired_job")
    assert run.status == "failed"
    assert run.error.startswith("PermanentError: No job named 'retired_job'")


def log_lines(caplog, logger: str) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == logger]


def test_a_tick_whose_enqueues_fail_records_its_runs_and_logs_the_outage_once(
    app, daily_jobs, monkeypatch, caplog
):
    def queue_down(*args, **kwargs):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    caplog.set_level(logging.INFO)
    with app.app_context():
        with monkeypatch.context() as patch:
            patch.setattr(huey.storage, "enqueue", queue_down)
            won = scheduler.tick(MIDNIGHT)
        assert len(won) >= 3  # the daily jobs' slots, and whichever other job is due
        statuses = db.session.execute(db.select(JobRun.status).where(JobRun.id.in_(won)))
        assert set(statuses.scalars()) == {"enqueued"}  # the session is still usable
        assert huey.pending_count() == 0
        # Queue back: the sweep sends the runs whose task never went out.
        db.session.execute(db.update(JobRun).values(enqueued_at=MIDNIGHT - timedelta(hours=1)))
        db.session.commit()
        assert scheduler.sweep()["requeued"] == len(won)
        db.session.commit()
        assert huey.pending_count() == len(won)
    levels = [level for level, _message in log_lines(caplog, "saas.jobs.enqueue")]
    assert levels == [logging.ERROR, logging.INFO]


def flaky(calls: int, error: Exception, then):
    """A stand-in that raises `error` on its first `calls` calls, then calls `then`."""
    failures = iter(range(calls))

    def call(*args, **kwargs):
        if next(failures, None) is not None:
            raise error
        return then(*args, **kwargs)

    return call


def one_after_another(*calls):
    """Each call runs the next of `calls`; once they are used up, a tick that claims nothing."""
    remaining = iter(calls)
    return lambda *args: next(remaining, lambda: [])()


def fail(error: Exception):
    def call():
        raise error

    return call


def commit_with_a_failing_hook() -> list[int]:
    """A commit whose after_commit hook raised: the session is left 'committed', where even
    rollback() raises (the state that used to end the scheduler)."""

    def hook(session):
        raise RuntimeError("an after-commit hook failed")

    session = db.session()
    event.listen(session, "after_commit", hook, once=True)
    session.execute(db.select(1))
    session.commit()
    return []


def run_scheduler_until(app, done, timeout: float = 10) -> None:
    stop = threading.Event()

    def run() -> None:
        with app.app_context():
            scheduler.run_forever(stop)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        wait_until(done, timeout=timeout, interval=0.01)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


@pytest.mark.app_config(SCHEDULER_TICK=0.01, OUTAGE_BACKOFF_CAP=0.04)
def test_the_scheduler_outlives_a_database_outage_and_logs_it_once(app, monkeypatch, caplog):
    down = OperationalError("SELECT 1", {}, Exception("connection refused"))
    beats = []
    monkeypatch.setattr(heartbeat, "beat", flaky(5, down, lambda *args: beats.append(args)))
    broken = fail(RuntimeError("the claim failed"))
    ticks = one_after_another(broken, broken, commit_with_a_failing_hook)
    monkeypatch.setattr(scheduler, "tick", ticks)
    caplog.set_level(logging.INFO)
    run_scheduler_until(app, lambda: len(beats) >= 5)
    messages = log_lines(caplog, "saas.jobs.scheduler")
    outage = [(level, text) for level, text in messages if "Scheduler tick" in text]
    # Beats 1-5 fail (one outage), then ticks 1-2 fail and tick 3 ends in the broken session:
    # the same outage goes on, and the loop still recovers from it.
    assert [level for level, _text in outage] == [logging.ERROR, logging.INFO]
    assert "after 8 failed tries" in outage[1][1]
    assert messages[-1] == (logging.INFO, f"Scheduler {heartbeat.process_name()} stopped")


def test_outage_backoff_doubles_up_to_its_cap_and_resets_when_it_ends(caplog):
    caplog.set_level(logging.INFO)
    outage = Outage("Probe", logging.getLogger("tests.outage"), base=1, cap=5)
    waits = [outage.failed(RuntimeError("down")) for _ in range(5)]
    assert waits == [1, 2, 4, 5, 5]
    outage.recovered()
    assert outage.backoff() == 1 and not outage.ongoing
    levels = [r.levelno for r in caplog.records if r.name == "tests.outage"]
    assert levels == [logging.ERROR, logging.INFO]


def test_a_worker_heartbeat_outlives_a_database_outage(app, monkeypatch, caplog):
    down = OperationalError("INSERT INTO heartbeats", {}, Exception("connection refused"))
    monkeypatch.setattr(heartbeat, "beat", flaky(3, down, heartbeat.beat))
    outage = Outage("Worker heartbeat", logging.getLogger("saas.jobs.heartbeat"), base=1, cap=3)
    caplog.set_level(logging.INFO)
    waits = [heartbeat.beat_once(app, "worker", "host-w:1", outage) for _ in range(4)]
    assert waits == [1, 2, 3, app.config["HEARTBEAT_INTERVAL"]]
    with app.app_context():
        assert [beat.name for beat in heartbeat.alive("worker")] == ["host-w:1"]
    levels = [level for level, _text in log_lines(caplog, "saas.jobs.heartbeat")]
    assert levels == [logging.ERROR, logging.INFO]
