"""The SaaS application factory."""

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from saas import config as settings
from saas import health, logs, pages
from saas.auth.cli import users_cli
from saas.errors import register_error_handlers
from saas.extensions import csrf, db, huey, limiter, login_manager, migrate
from saas.features import BLUEPRINTS
from saas.jobs.cli import jobs_cli, scheduler_command
from saas.mail.cli import mail_cli
from saas.security import register_security_headers
from saas.seed import seed_command
from saas.urls import DatabaseIdConverter


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(settings.PROJECT_ROOT / "templates"),
        instance_relative_config=False,
    )
    configure(app, overrides)
    register_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_security_headers(app)
    register_cli(app)
    register_proxy(app)
    return app


def configure(app: Flask, overrides: dict | None) -> None:
    app.config.from_mapping(settings.from_environment())
    app.config.from_mapping(overrides or {})
    settings.check(app.config)
    app.instance_path = app.config["INSTANCE_PATH"]
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)


def register_logging(app: Flask) -> None:
    logs.configure(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
    app.logger.setLevel(app.config["LOG_LEVEL"])


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(settings.PROJECT_ROOT / "migrations"))
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    csrf.init_app(app)
    limiter.init_app(app)
    huey.init_app(app)


def register_blueprints(app: Flask) -> None:
    app.url_map.converters["int"] = DatabaseIdConverter  # before any rule is added
    for blueprint in (pages.bp, *BLUEPRINTS, health.bp):
        app.register_blueprint(blueprint)


def register_cli(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(seed_command)
    app.cli.add_command(mail_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(scheduler_command)


def register_proxy(app: Flask) -> None:
    hops = app.config["PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)
