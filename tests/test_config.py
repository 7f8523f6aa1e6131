import pytest
from flask import request

from saas import create_app
from saas.config import ConfigurationError, database_uri


def test_production_refuses_a_missing_secret_key(app_env, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "")
    with pytest.raises(ConfigurationError, match="set SECRET_KEY"):
        create_app()


def test_production_refuses_the_default_secret_key(app_env, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "change-me")
    with pytest.raises(ConfigurationError):
        create_app()


def test_production_starts_with_a_real_secret_key(app_env, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "0123456789abcdef" * 4)
    assert create_app().config["APP_ENV"] == "production"


def test_https_base_url_makes_cookies_secure(app_env, monkeypatch):
    monkeypatch.setenv("BASE_URL", "https://app.example.com")
    config = create_app({"TESTING": True}).config
    assert config["SESSION_COOKIE_SECURE"] and config["REMEMBER_COOKIE_SECURE"]


def test_proxy_fix_trusts_one_hop_when_configured(app_env, monkeypatch):
    monkeypatch.setenv("PROXY_HOPS", "1")
    app = create_app({"TESTING": True})
    seen = {}

    @app.get("/whoami")
    def whoami():
        seen["ip"], seen["scheme"] = request.remote_addr, request.scheme
        return ""

    app.test_client().get(
        "/whoami", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    )
    assert seen == {"ip": "203.0.113.9", "scheme": "https"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@db/x", "postgresql+psycopg://u:p@db/x"),
        ("postgresql://u@db/x", "postgresql+psycopg://u@db/x"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_database_url_forms(url, expected):
    assert database_uri(url, None) == expected
