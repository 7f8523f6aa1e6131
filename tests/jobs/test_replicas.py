"""Scheduler replicas as real processes (the Procfile's command) with the real consumer, on a
compressed clock shared by all of them: one simulated minute per real second."""

import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from saas.extensions import db
from saas.jobs.models import Heartbeat, JobRun
from tests.support.waiting import wait_until

SIMULATED_START = datetime(2026, 6, 1, 10, 0, 30, tzinfo=UTC)


def compressed_clock() -> dict:
    return {
        "PROBE_CLOCK_SPEED": "60",
        "PROBE_CLOCK_ORIGIN": str(time.time()),
        "PROBE_CLOCK_START": str(SIMULATED_START.timestamp()),
        "SCHEDULER_TICK": "0.1",
        "SCHEDULER_SWEEP_INTERVAL": "0.5",
        "SCHEDULER_ENQUEUE_GRACE": "2",
    }


def probe_runs(app) -> list[JobRun]:
    with app.app_context():
        return (
            db.session.execute(
                db.select(JobRun).where(JobRun.job == "probe_every_minute").order_by(JobRun.slot_at)
            )
            .scalars()
            .all()
        )


def status_of(app, run_id: int) -> str:
    with app.app_context():
        return db.session.get(JobRun, run_id).status


def beating(app, pid: int) -> bool:
    with app.app_context():
        names = db.session.execute(
            db.select(Heartbeat.name).where(Heartbeat.kind == "scheduler")
        ).scalars()
        return any(name.endswith(f":{pid}") for name in names)


def assert_each_slot_ran_once(app, run_log: Path, first_slots: int) -> None:
    """Call with every scheduler stopped, so the set of slots no longer grows."""
    wait_until(lambda: all(run.status == "succeeded" for run in probe_runs(app)), timeout=60)
    slots = [run.slot_at for run in probe_runs(app)]
    assert len(slots) >= first_slots
    # Consecutive minutes: none lost, and the unique constraint allows no double.
    assert slots == [slots[0] + timedelta(minutes=n) for n in range(len(slots))]
    executions = Counter(run_log.read_text().split())
    assert sorted(executions) == sorted(slot.isoformat() for slot in slots)
    assert set(executions.values()) == {1}, executions
    assert {run.attempt for run in probe_runs(app)} == {1}


def test_three_replicas_run_every_slot_exactly_once(app, start_scheduler, start_worker, tmp_path):
    run_log = tmp_path / "runs.log"
    env = {**compressed_clock(), "PROBE_RUN_LOG": str(run_log)}
    start_worker(**env)
    replicas = [start_scheduler(**env) for _ in range(3)]
    wait_until(lambda: len(probe_runs(app)) >= 15, timeout=60)
    for replica in replicas:
        replica.send_signal(signal.SIGTERM)
    for replica in replicas:
        assert replica.wait(timeout=20) == 0
    assert_each_slot_ran_once(app, run_log, first_slots=15)


def test_a_replica_killed_mid_tick_loses_and_doubles_nothing(
    app, start_scheduler, start_worker, tmp_path
):
    run_log, stalled = tmp_path / "runs.log", tmp_path / "stalled"
    env = {**compressed_clock(), "PROBE_RUN_LOG": str(run_log)}
    start_worker(**env)
    healthy = start_scheduler(**env)
    wait_until(lambda: len(probe_runs(app)) >= 3, timeout=60)
    # This one stops dead after its first winning claim commits, before it enqueues the task.
    doomed = start_scheduler(**env, PROBE_STALL_AFTER_CLAIM=str(stalled))
    wait_until(stalled.exists, timeout=60)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    orphan = int(stalled.read_text())
    replacement = start_scheduler(**env)
    # Running (its SIGTERM handler in place, its heartbeat written) before the count can end
    # the test: on a loaded machine the healthy replica alone may reach it first.
    wait_until(lambda: beating(app, replacement.pid), timeout=60)
    wait_until(lambda: len(probe_runs(app)) >= 12, timeout=60)
    # The live replicas' sweep re-enqueues the orphan's task (after SCHEDULER_ENQUEUE_GRACE):
    # on a loaded machine, wait for it before they stop, as nothing sweeps after that.
    wait_until(lambda: status_of(app, orphan) != "enqueued", timeout=60)
    for scheduler in (healthy, replacement):
        scheduler.send_signal(signal.SIGTERM)
    for scheduler in (healthy, replacement):
        assert scheduler.wait(timeout=20) == 0
    with app.app_context():
        run = db.session.get(JobRun, orphan)
    # Its task was re-enqueued by the sweep. The orphan may be the every-minute `sweep` job's
    # slot (overlap="skip"): on this compressed clock a newer run of it may hold the job then.
    overlapped = run.status == "skipped" and "still running" in run.error
    assert run.status in ("enqueued", "running", "succeeded") or overlapped
    assert_each_slot_ran_once(app, run_log, first_slots=12)
