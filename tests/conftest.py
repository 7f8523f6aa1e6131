"""Fixtures: a fresh app, database, queue and mailbox for every test (Flask tutorial style)."""

import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, time
from pathlib import Path

import flask_migrate
import pytest

from saas import create_app
from saas.extensions import db, huey
from tests.support.auth import AuthActions
from tests.support.probe_clock import FIXED_NOW_VARIABLE
from tests.support.procfile import procfile_command
from tests.support.services import (
    APP_VARIABLES,
    SERVER_DATABASE_URL,
    SERVER_REDIS_URL,
    PostgresDatabases,
    SqliteDatabases,
    delete_redis_keys,
)
from tests.support.smtp import Mailbox

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET_KEY = "test-secret-key-not-for-production"
FIXED_NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # the 1st of a 31-day month (issue 10)


def migrate_to_head(database_url: str, instance: Path) -> None:
    os.environ.update({"DATABASE_URL": database_url, "INSTANCE_PATH": str(instance)})
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET_KEY})
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory):
    for name in APP_VARIABLES:
        os.environ[name] = ""
    folder = tmp_path_factory.mktemp("template")
    store = PostgresDatabases() if SERVER_DATABASE_URL else SqliteDatabases(folder)
    migrate_to_head(store.template_url(), folder)
    yield store
    if SERVER_DATABASE_URL:
        store.close()


@pytest.fixture
def mailbox():
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture
def app_env(databases, mailbox, tmp_path, monkeypatch):
    """The environment of every process of this test: its own database, queue and key prefix."""
    unique = uuid.uuid4().hex[:12]
    instance = tmp_path / "instance"
    if SERVER_DATABASE_URL:
        database_name = databases.create()
        database_url = databases.url(database_name)
    else:
        database_url = databases.create_in(instance)
    env = {
        "APP_ENV": "test",
        "SECRET_KEY": TEST_SECRET_KEY,
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": database_url,
        "REDIS_URL": SERVER_REDIS_URL or "",
        "QUEUE_NAME": f"test-{unique}",
        "RATELIMIT_KEY_PREFIX": f"test-{unique}-limits",
        "BASE_URL": "http://localhost",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(mailbox.port),
        "MAIL_DEFAULT_SENDER": "SaaS <no-reply@saas.test>",
        "CONTACT_RECIPIENT": "support@saas.test",
        "LOG_LEVEL": "INFO",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield env
    if SERVER_REDIS_URL:
        delete_redis_keys(unique)
    if SERVER_DATABASE_URL:
        databases.drop(database_name)


@pytest.fixture
def app(app_env, request):
    """A fresh app; `@pytest.mark.app_config(KEY=value)` overrides its configuration."""
    marker = request.node.get_closest_marker("app_config")
    app = create_app({"TESTING": True, **(marker.kwargs if marker else {})})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def run_queued_tasks(app):
    """Execute every queued task in this process, as a worker would; returns how many ran."""

    def run() -> int:
        count = 0
        while (task := huey.dequeue()) is not None:
            huey.execute(task)
            count += 1
        return count

    return run


@pytest.fixture
def start_process(app_env, tmp_path):
    """Start a Procfile command as is, but for the app module (the test probes are added);
    every process is killed at the end of the test."""
    processes = []

    def start(process: str, app_module: tuple[str, str], **extra_env) -> subprocess.Popen:
        command = procfile_command(process).replace(*app_module)
        env = {**os.environ, **app_env, **extra_env, "PYTHONPATH": str(ROOT)}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        log = open(tmp_path / f"{process}-{len(processes)}.log", "wb")  # noqa: SIM115 - kept for the process
        popen = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append((popen, log))
        return popen

    yield start
    for popen, log in processes:
        if popen.poll() is None:
            popen.kill()
            popen.wait()
        log.close()


@pytest.fixture
def start_worker(start_process):
    """The Procfile's worker command, with the probe task and jobs added to the consumer."""

    def start(**extra_env) -> subprocess.Popen:
        return start_process(
            "worker", ("saas.worker.huey", "tests.support.probe_worker.huey"), **extra_env
        )

    return start


@pytest.fixture
def start_scheduler(start_process):
    """The Procfile's scheduler command, with the probe jobs (and test clock) added."""

    def start(**extra_env) -> subprocess.Popen:
        return start_process(
            "scheduler", ("--app saas ", "--app tests.support.probe_scheduler "), **extra_env
        )

    return start


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def sign_up(auth, mailbox, run_queued_tasks):
    """Sign up through the form, then deliver the verification email it queues and empty the
    mailbox, so a test counts only the emails it causes itself."""

    def sign_up(**account):
        response = auth.signup(**account)
        assert response.status_code == 303
        assert run_queued_tasks() == 1
        [message] = mailbox.wait_for(1)
        assert message["Subject"] == "Verify your SaaS email address"
        mailbox.clear()
        return response

    return sign_up


@pytest.fixture
def fixed_clock(monkeypatch):
    """The product's clock (`saas.jobs.clock.now`) stands still at FIXED_NOW, in this process and,
    through PROBE_FIXED_NOW, in the processes the test starts afterwards; returns a setter that
    moves it (a date means noon UTC that day) and returns the new moment."""

    def fix(moment: date | datetime) -> datetime:
        if not isinstance(moment, datetime):
            moment = datetime.combine(moment, time(12), UTC)
        monkeypatch.setattr("saas.jobs.clock.now", lambda: moment)
        monkeypatch.setenv(FIXED_NOW_VARIABLE, moment.isoformat())
        return moment

    fix(FIXED_NOW)
    return fix
