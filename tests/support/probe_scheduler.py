"""`flask --app tests.support.probe_scheduler scheduler`: the product's scheduler with the probe
jobs and, when PROBE_CLOCK_SPEED is set, a compressed clock shared by every replica: simulated
time runs PROBE_CLOCK_SPEED times faster from PROBE_CLOCK_START (a simulated UTC timestamp) at the
real moment PROBE_CLOCK_ORIGIN. PROBE_STALL_AFTER_CLAIM=<file> makes the replica stop dead after
its first winning claim commits and before it enqueues the task (touching <file>), so a test can
SIGKILL it in the middle of a tick."""

import os
import time
from datetime import UTC, datetime

import tests.support.probe_jobs  # noqa: F401 - registers the probe jobs
from saas import create_app as create_saas_app
from saas.jobs import clock, scheduler


def compressed_now() -> datetime:
    speed = float(os.environ["PROBE_CLOCK_SPEED"])
    origin, start = float(os.environ["PROBE_CLOCK_ORIGIN"]), float(os.environ["PROBE_CLOCK_START"])
    return datetime.fromtimestamp(start + (time.time() - origin) * speed, UTC)


def stall_instead_of_enqueueing(run_id: int) -> None:
    with open(os.environ["PROBE_STALL_AFTER_CLAIM"], "w") as marker:
        marker.write(str(run_id))
    time.sleep(3600)


def create_app():
    if os.environ.get("PROBE_CLOCK_SPEED"):
        clock.now = compressed_now
    if os.environ.get("PROBE_STALL_AFTER_CLAIM"):
        scheduler.run_job = stall_instead_of_enqueueing
    return create_saas_app()
