"""Billing tests talk to a local fake of Stripe's API through the real SDK."""

import pytest

from tests.support.fake_stripe import WEBHOOK_SECRET, FakeStripe


@pytest.fixture
def app_env(app_env, httpserver, monkeypatch):
    stripe_env = {
        "STRIPE_SECRET_KEY": "sk_test_fake",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_fake",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": httpserver.url_for("/").rstrip("/"),
        "STRIPE_TIMEOUT": "1",
    }
    for name, value in stripe_env.items():
        monkeypatch.setenv(name, value)
    return {**app_env, **stripe_env}


@pytest.fixture
def stripe_api(httpserver):
    return FakeStripe(httpserver)
