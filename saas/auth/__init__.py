"""Accounts: sign up, log in, password reset, settings."""

from saas.auth import jobs  # registers the account jobs with the scheduler
from saas.auth.views import bp

__all__ = ["bp", "jobs"]
