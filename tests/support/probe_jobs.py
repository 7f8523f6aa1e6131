"""Jobs the scheduler tests use: each run appends its slot to the file PROBE_RUN_LOG names."""

import os

from saas.jobs.registry import RunContext, periodic


@periodic("* * * * *", catch_up="all", overlap="allow")
def probe_every_minute(run: RunContext) -> dict:
    with open(os.environ["PROBE_RUN_LOG"], "a") as log:
        log.write(f"{run.slot_at.isoformat() if run.slot_at else 'manual'}\n")
    return {"slot": run.slot_at.isoformat() if run.slot_at else None}
