"""Billing tests talk to a local fake of Stripe's API through the real SDK."""

import pytest

from tests.support.fake_stripe import FakeStripe, fake_stripe_env


@pytest.fixture
def app_env(app_env, httpserver, monkeypatch):
    return fake_stripe_env(app_env, httpserver, monkeypatch)


@pytest.fixture
def stripe_api(httpserver):
    return FakeStripe(httpserver)
