"""Consumer entry point for bench.latency: the product's worker plus the benchmark's task."""

import bench.latency_tasks  # noqa: F401 - registers the benchmark's task
from saas.worker import app, huey

__all__ = ["app", "huey"]
