"""The job layer: run records, retry policy, scheduler, recovery sweeps, enqueue-after-commit.
Like a feature, it registers its own task and jobs when the package is loaded."""

from saas.jobs import maintenance, runner  # the run_job task, the housekeeping jobs

__all__ = ["maintenance", "runner"]
