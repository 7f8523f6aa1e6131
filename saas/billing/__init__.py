"""Billing: the card on file and its expiry (Stripe comes with the billing issue)."""

from saas.billing import jobs, tasks  # registers the billing jobs and tasks
from saas.billing.views import bp

__all__ = ["bp", "jobs", "tasks"]
