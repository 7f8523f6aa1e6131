"""An idle system's worker and scheduler say nothing at INFO: the every-minute sweep that finds
nothing to do, and Huey's per-task lines, are DEBUG. The real processes, on a compressed clock
(a simulated minute a second); the probe job the test scheduler adds is left out of the count,
since each of its runs writes a file (it does something)."""

import re

from saas.extensions import db
from saas.jobs.models import JobRun
from tests.jobs.test_replicas import compressed_clock
from tests.support.waiting import wait_until

LOUD = re.compile(r"\b(INFO|WARNING|ERROR|CRITICAL)\b")


def sweeps_done(app) -> int:
    with app.app_context():
        query = db.select(db.func.count()).where(
            JobRun.job == "sweep", JobRun.status == "succeeded"
        )
        return db.session.execute(query).scalar()


def loud_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if LOUD.search(line) and "probe_" not in line]


def test_idle_minutes_of_the_worker_and_scheduler_log_nothing_at_info(
    app, start_worker, start_scheduler, tmp_path
):
    env = {**compressed_clock(), "PROBE_RUN_LOG": str(tmp_path / "runs.log")}
    start_worker(**env)
    start_scheduler(**env)
    wait_until(lambda: sweeps_done(app) >= 1, timeout=60)  # both started and said so
    logs = {"worker": tmp_path / "worker-0.log", "scheduler": tmp_path / "scheduler-1.log"}
    started = {name: len(path.read_text()) for name, path in logs.items()}
    assert "Scheduler" in logs["scheduler"].read_text()  # the startup lines are INFO

    done = sweeps_done(app)
    wait_until(lambda: sweeps_done(app) >= done + 3, timeout=60)  # three idle minutes
    for name, path in logs.items():
        idle = path.read_text()[started[name] :]
        assert loud_lines(idle) == [], f"{name} logged while idle:\n{idle}"
