import pytest
from flask import request

from saas import create_app
from saas.config import PROJECT_ROOT, ConfigurationError, database_uri, in_production


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


@pytest.mark.parametrize("name", ["Production", "prod", "staging", "PRODUCTION ", "qa"])
def test_any_app_env_but_development_or_test_is_production(app_env, monkeypatch, name):
    monkeypatch.setenv("APP_ENV", name)
    monkeypatch.setenv("SECRET_KEY", "change-me")
    with pytest.raises(ConfigurationError, match="set SECRET_KEY"):
        create_app()


@pytest.mark.parametrize("name", ["development", "Development", "test", "TEST"])
def test_development_and_test_start_with_the_default_secret_key(app_env, monkeypatch, name):
    monkeypatch.setenv("APP_ENV", name)
    monkeypatch.setenv("SECRET_KEY", "change-me")
    assert create_app().config["APP_ENV"] == name


def test_the_env_example_scripts_run_copies_is_development(app_env, monkeypatch):
    example = (PROJECT_ROOT / ".env.example").read_text()
    assert "\nAPP_ENV=development\n" in example
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("SECRET_KEY", "change-me")
    assert not in_production(create_app().config)


def test_request_size_limits_are_set_and_configurable(app_env, monkeypatch):
    config = create_app({"TESTING": True}).config
    assert config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    assert config["MAX_FORM_MEMORY_SIZE"] <= config["MAX_CONTENT_LENGTH"]
    assert config["MAX_FORM_PARTS"] == 100
    assert config["STRIPE_WEBHOOK_MAX_BYTES"] == 256 * 1024
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "2048")
    assert create_app({"TESTING": True}).config["MAX_CONTENT_LENGTH"] == 2048
