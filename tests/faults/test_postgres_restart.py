"""PostgreSQL restarts while a job runs (issue 10): the run is recorded within seconds of the
database coming back, by the same worker, and the job's next slot runs instead of being skipped
as an overlap until the run's lease expires. The database is a cluster of the test's own; the
worker, the scheduler (on a compressed clock) and the queue are the real processes."""

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from saas.extensions import db
from saas.jobs.models import JobRun
from tests.support.apps import app_on_environment
from tests.support.waiting import wait_until

SIMULATED_START = datetime(2026, 6, 1, 10, 0, 30, tzinfo=UTC)
OUTAGE = 2.5  # seconds the database stays down after the run's work is done
RECORDED_WITHIN = 10.0  # seconds after the database accepts connections again
NEXT_SLOT_WITHIN = 10.0  # seconds after the run is recorded (a simulated minute is a second)


@pytest.fixture
def restart_env(app_env, private_postgres, monkeypatch, tmp_path) -> dict:
    """What the worker and scheduler get on top of app_env: the private database, a clock at
    one simulated minute per second, quick ticks and heartbeats, and a lease far longer than
    the test, so only the runner, never the lease's expiry, can close the run."""
    url = private_postgres.create_database("saas_faults")
    monkeypatch.setenv("DATABASE_URL", url)
    slow = tmp_path / "slow"
    slow.mkdir()
    return {
        "DATABASE_URL": url,
        "PROBE_CLOCK_SPEED": "60",
        "PROBE_CLOCK_ORIGIN": str(time.time()),
        "PROBE_CLOCK_START": str(SIMULATED_START.timestamp()),
        "SCHEDULER_TICK": "0.2",
        "SCHEDULER_SWEEP_INTERVAL": "0.5",
        "SCHEDULER_ENQUEUE_GRACE": "2",
        "HEARTBEAT_INTERVAL": "0.5",
        "JOB_LEASE": "600",
        "PROBE_RUN_LOG": str(tmp_path / "runs.log"),
        "PROBE_SLOW_DIR": str(slow),
    }


@pytest.fixture
def private_app(restart_env):
    """The test's view of the private database."""
    with app_on_environment() as app:
        yield app


@pytest.fixture
def worker(restart_env, start_worker, start_scheduler):
    """The real worker and scheduler on the private database; returns the worker process."""
    process = start_worker(**restart_env)
    start_scheduler(**restart_env)
    return process


def slow_runs(app) -> list[JobRun]:
    with app.app_context():
        query = db.select(JobRun).where(JobRun.job == "probe_slow").order_by(JobRun.slot_at)
        return db.session.execute(query).scalars().all()


def run_of(app, run_id: int) -> JobRun:
    return next(run for run in slow_runs(app) if run.id == run_id)


def describe(app) -> str:
    lines = [
        f"run {run.id} slot {run.slot_at:%H:%M} {run.status} attempt {run.attempt}: {run.error}"
        for run in slow_runs(app)
    ]
    return "probe_slow runs:\n" + "\n".join(lines)


def within(seconds: float, predicate) -> bool:
    try:
        wait_until(predicate, timeout=seconds, interval=0.1)
    except AssertionError:
        return False
    return True


def next_slot_succeeded(app, after: datetime) -> bool:
    return any(run.slot_at > after and run.status == "succeeded" for run in slow_runs(app))


# fast: a restart (sessions are told and closed); immediate: a crash, then crash recovery.
@pytest.mark.parametrize("stop_mode", ["fast", "immediate"])
def test_a_run_open_across_a_restart_is_recorded_and_the_next_slot_runs(
    stop_mode, private_app, private_postgres, restart_env, worker
):
    slow = Path(restart_env["PROBE_SLOW_DIR"])
    wait_until(lambda: any(slow.glob("started-*")), timeout=30)
    [started] = slow.glob("started-*")
    run_id = int(started.name.removeprefix("started-"))
    assert run_of(private_app, run_id).status == "running"

    private_postgres.stop(stop_mode)
    # The job's work ends while the database is down: its outcome write meets the outage.
    (slow / "release").touch()
    wait_until((slow / f"returned-{run_id}").exists, timeout=5)
    time.sleep(OUTAGE)
    private_postgres.start()

    recorded = within(RECORDED_WITHIN, lambda: run_of(private_app, run_id).status == "succeeded")
    assert recorded, describe(private_app)
    stuck_slot = run_of(private_app, run_id).slot_at
    ran = within(NEXT_SLOT_WITHIN, lambda: next_slot_succeeded(private_app, stuck_slot))
    assert ran, describe(private_app)
    assert worker.poll() is None  # recorded by the worker that ran it, still alive
