"""The operations console for admins: every page and action, each action in the audit log."""

from saas.admin import (  # noqa: F401 - each registers its routes
    audit_log,
    emails,
    inbox,
    runs,
    schedule,
    stripe_events,
    users,
    views,
)
from saas.admin.console import bp

__all__ = ["bp"]
