"""Job runs through the durable-work lifecycle, with the real consumer: a run whose worker is
SIGKILLed mid-run is taken back by the sweep once its lease expires and runs to the end once."""

import signal

from saas.database import now_utc
from saas.extensions import db
from saas.jobs import scheduler
from saas.jobs.enqueue import IdOf, enqueue_after_commit
from saas.jobs.models import JobRun
from saas.jobs.runner import run_job
from tests.support.waiting import wait_until


def the_run(app, run_id: int) -> JobRun:
    with app.app_context():
        return db.session.get(JobRun, run_id)


def test_a_run_whose_worker_is_killed_runs_once_more_after_the_sweep(app, tmp_path, start_worker):
    slow = {"PROBE_SLOW_DIR": str(tmp_path), "JOB_LEASE": "2"}
    worker = start_worker(**slow)
    with app.app_context():
        run = JobRun(job="probe_slow", trigger="manual", status="enqueued", enqueued_at=now_utc())
        db.session.add(run)
        enqueue_after_commit(run_job, IdOf(run))
        db.session.commit()
        run_id = run.id
    wait_until((tmp_path / f"started-{run_id}").exists)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    assert (the_run(app, run_id).status, the_run(app, run_id).attempt) == ("running", 1)
    assert not (tmp_path / f"returned-{run_id}").exists()

    (tmp_path / "release").touch()  # the next attempt runs straight through
    start_worker(**slow)

    def swept() -> bool:
        with app.app_context():
            counts = scheduler.sweep()
            db.session.commit()
            return counts["reclaimed"] == 1

    wait_until(swept, timeout=15)  # once the dead worker's lease has run out
    wait_until(lambda: the_run(app, run_id).status == "succeeded")
    run = the_run(app, run_id)
    assert run.attempt == 2 and run.lease_expires_at is None
    # The run keeps what happened to its first attempt.
    assert run.error == "the worker was lost during this attempt (its lease expired)"
    assert (tmp_path / f"returned-{run_id}").exists()
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(JobRun)).scalar() == 1
