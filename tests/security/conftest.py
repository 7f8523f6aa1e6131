"""Security tests that sign webhooks use the billing tests' Stripe environment."""

from tests.billing.conftest import app_env, stripe_api  # noqa: F401
