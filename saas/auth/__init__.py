"""Accounts: sign up, log in, password reset, settings."""

from saas.auth.views import bp

__all__ = ["bp"]
