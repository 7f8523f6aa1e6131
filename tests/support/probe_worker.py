"""Consumer entry point for tests: the product's worker plus the probe task and jobs.
PROBE_REPORT_ROW_DELAY slows report rows down, so a browser can watch the progress bar move;
PROBE_FIXED_NOW fixes the clock (see probe_clock)."""

import os
import time

import tests.support.probe_jobs  # noqa: F401 - registers the probe jobs
import tests.support.probe_tasks  # noqa: F401 - registers the probe task
from saas.reports.tasks import Progress
from saas.worker import app, huey
from tests.support.probe_clock import fix_clock_from_environment

fix_clock_from_environment()

if os.environ.get("PROBE_REPORT_ROW_DELAY"):
    _advance = Progress.advance
    _delay = float(os.environ["PROBE_REPORT_ROW_DELAY"])

    def _slow_advance(self, rows: int) -> None:
        time.sleep(_delay * rows)
        _advance(self, rows)

    Progress.advance = _slow_advance

__all__ = ["app", "huey"]
