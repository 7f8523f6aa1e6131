"""Long-running reports with live progress."""

from saas.reports import jobs, tasks  # registers the report jobs and tasks
from saas.reports.views import bp

__all__ = ["bp", "jobs", "tasks"]
