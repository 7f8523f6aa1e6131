"""Pause, resume and Run slot X from the console while three scheduler replicas (the Procfile's
command, real processes) and the real worker run on a compressed clock: one simulated minute per
real second, in this process too."""

import signal
import time
from datetime import timedelta

from saas.admin.models import AuditEntry
from saas.extensions import db
from saas.jobs.models import JobRun
from saas.jobs.registry import REGISTRY, Job
from tests.jobs.test_replicas import assert_each_slot_ran_once, compressed_clock, probe_runs
from tests.support.accounts import make_user
from tests.support.probe_jobs import PROBE_SLOW_POLICY, probe_slow
from tests.support.probe_scheduler import compressed_now
from tests.support.waiting import wait_until

JOB = "probe_every_minute"  # catch_up="all"


def run_at(app, slot, job: str = JOB) -> JobRun | None:
    with app.app_context():
        query = db.select(JobRun).where(JobRun.job == job, JobRun.slot_at == slot)
        return db.session.execute(query).scalar_one_or_none()


def running(app, job: str) -> list[JobRun]:
    with app.app_context():
        query = db.select(JobRun).where(JobRun.job == job, JobRun.status == "running")
        return list(db.session.execute(query).scalars())


def skipped_runs(app, job: str) -> list[JobRun]:
    with app.app_context():
        query = db.select(JobRun).where(JobRun.job == job, JobRun.status == "skipped")
        return list(db.session.execute(query.order_by(JobRun.slot_at)).scalars())


def test_three_replicas_honour_a_pause_catch_up_after_it_and_run_a_claimed_slot_once(
    app, auth, start_scheduler, start_worker, tmp_path, monkeypatch
):
    run_log = tmp_path / "runs.log"
    env = {**compressed_clock(), "PROBE_RUN_LOG": str(run_log)}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("saas.jobs.clock.now", compressed_now)
    make_user(app, "root@example.com", role="admin")
    auth.login("root@example.com", "customer-password")
    start_worker(**env)
    replicas = [start_scheduler(**env) for _ in range(3)]
    wait_until(lambda: len(probe_runs(app)) >= 3, timeout=60)

    assert auth.post(f"/admin/jobs/{JOB}/pause", token_from="/admin/jobs").status_code == 303
    time.sleep(1.5)  # a tick already under way may still record its slot
    paused_with = len(probe_runs(app))
    time.sleep(4)  # four simulated minutes: no replica records a slot
    assert len(probe_runs(app)) == paused_with

    # One of the slots missed while paused, run by hand: it is claimed, so asking twice and the
    # replicas' catch-up after the resume run it once.
    missed = max(run.slot_at for run in probe_runs(app)) + timedelta(minutes=2)
    path = f"/admin/jobs/{JOB}/slots/{missed.isoformat()}/run"
    for _ in range(2):
        assert auth.post(path, token_from="/admin/jobs").status_code == 303
    wait_until(lambda: run_at(app, missed) and run_at(app, missed).status == "succeeded")

    assert auth.post(f"/admin/jobs/{JOB}/resume", token_from="/admin/jobs").status_code == 303
    wait_until(lambda: len(probe_runs(app)) >= paused_with + 8, timeout=60)
    for replica in replicas:
        replica.send_signal(signal.SIGTERM)
    for replica in replicas:
        assert replica.wait(timeout=20) == 0
    # catch_up="all": every minute missed while paused ran after the resume, each once; the one
    # run by hand kept its manual trigger and ran once.
    assert_each_slot_ran_once(app, run_log, first_slots=paused_with + 8)
    assert run_at(app, missed).trigger == "manual"


def test_three_replicas_and_run_slot_x_of_a_skipped_slot_run_it_once(
    app, auth, start_scheduler, start_worker, tmp_path, monkeypatch
):
    """probe_slow (overlap="skip") holds its first run open, so the replicas record the next
    slots as skipped; once it returns, one of them, run by hand twice over, runs once."""
    env = {
        **compressed_clock(),
        "PROBE_SLOW_DIR": str(tmp_path),
        "PROBE_RUN_LOG": str(tmp_path / "runs.log"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("saas.jobs.clock.now", compressed_now)
    slow = Job(name="probe_slow", func=probe_slow, cron="* * * * *", **PROBE_SLOW_POLICY)
    monkeypatch.setitem(REGISTRY, "probe_slow", slow)  # this process's console knows the job
    make_user(app, "root@example.com", role="admin")
    auth.login("root@example.com", "customer-password")
    start_worker(**env)
    replicas = [start_scheduler(**env) for _ in range(3)]
    wait_until(lambda: len(skipped_runs(app, "probe_slow")) >= 2, timeout=60)
    skipped = skipped_runs(app, "probe_slow")[0]
    assert skipped.error == "the previous run of this job was still running"
    # Recorded by a replica (never started), or by the worker that claimed it and found the
    # previous run still going: which one depends on how the replicas' ticks fall.
    assert skipped.attempt in (0, 1)

    (tmp_path / "release").touch()  # the open run returns; later slots run straight through
    wait_until(lambda: not running(app, "probe_slow"))
    path = f"/admin/jobs/probe_slow/slots/{skipped.slot_at.isoformat()}/run"
    for _ in range(2):
        assert auth.post(path, token_from="/admin/jobs").status_code == 303
    wait_until(lambda: run_at(app, skipped.slot_at, "probe_slow").status == "succeeded")
    for replica in replicas:
        replica.send_signal(signal.SIGTERM)
    for replica in replicas:
        assert replica.wait(timeout=20) == 0

    run = run_at(app, skipped.slot_at, "probe_slow")
    # Run by hand from its first attempt, whoever recorded the skip.
    assert (run.id, run.trigger, run.attempt, run.error) == (skipped.id, "manual", 1, None)
    starts = (tmp_path / "starts.log").read_text().splitlines()
    assert starts.count(f"{run.id} {skipped.slot_at.isoformat()}") == 1
    with app.app_context():
        outcomes = db.session.execute(
            db.select(AuditEntry.outcome)
            .where(AuditEntry.action == "job.run_slot")
            .order_by(AuditEntry.id)
        ).scalars()
        assert list(outcomes) == ["done", "refused"]
