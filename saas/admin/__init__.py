"""The operations console for admins: every page and action, each action in the audit log."""

from saas.admin import audit_log, schedule, views  # noqa: F401 - each registers its routes
from saas.admin.console import bp

__all__ = ["bp"]
