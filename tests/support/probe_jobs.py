"""Jobs the scheduler tests use: each run appends its slot to the file PROBE_RUN_LOG names.
PROBE_SLOW_DIR=<folder> also schedules `probe_slow`, whose runs stay open until the test says."""

import os
import time
from pathlib import Path

from saas.jobs.registry import RunContext, periodic
from saas.jobs.retry import RetryPolicy


@periodic("* * * * *", catch_up="all", overlap="allow")
def probe_every_minute(run: RunContext) -> dict:
    with open(os.environ["PROBE_RUN_LOG"], "a") as log:
        log.write(f"{run.slot_at.isoformat() if run.slot_at else 'manual'}\n")
    return {"slot": run.slot_at.isoformat() if run.slot_at else None}


def probe_slow(run: RunContext) -> dict:
    """Touches <folder>/started-<run id>, holds the run open until <folder>/release exists (a
    minute at most), then touches <folder>/returned-<run id>: a test acts while a run is open."""
    folder = Path(os.environ["PROBE_SLOW_DIR"])
    with open(folder / "starts.log", "a") as starts:  # one line per execution, to count them
        starts.write(f"{run.run_id} {run.slot_at.isoformat() if run.slot_at else 'manual'}\n")
    (folder / f"started-{run.run_id}").touch()
    deadline = time.monotonic() + 60
    while not (folder / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    (folder / f"returned-{run.run_id}").touch()
    return {"slot": run.slot_at.isoformat() if run.slot_at else None}


# Only when asked for, so the other scheduler tests see the same jobs as before. Its retries are
# quick, so a run retried after a failed attempt finishes within the test's patience.
PROBE_SLOW_POLICY = {
    "catch_up": "latest",
    "overlap": "skip",
    "retry": RetryPolicy(retries=3, base=0.5, cap=1),
}
if os.environ.get("PROBE_SLOW_DIR"):
    periodic("* * * * *", **PROBE_SLOW_POLICY)(probe_slow)
