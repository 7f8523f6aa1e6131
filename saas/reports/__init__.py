"""Long-running reports with live progress."""

from saas.reports.views import bp

__all__ = ["bp"]
