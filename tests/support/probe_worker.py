"""Consumer entry point for tests: the product's worker plus the probe task and jobs."""

import tests.support.probe_jobs  # noqa: F401 - registers the probe jobs
import tests.support.probe_tasks  # noqa: F401 - registers the probe task
from saas.worker import app, huey

__all__ = ["app", "huey"]
