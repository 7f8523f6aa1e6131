"""The operations console for admins: queue, workers, schedule, run history, failures."""

from saas.admin.views import bp

__all__ = ["bp"]
