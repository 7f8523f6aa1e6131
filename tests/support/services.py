"""Per-test databases and Redis key clean-up, on the embedded default or the real servers."""

import os
import shutil
import uuid
from pathlib import Path

import redis
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from saas.config import database_uri

# Set by .ci/run to the real servers; unset means the embedded default (SQLite + Huey's SQLite).
SERVER_DATABASE_URL = os.environ.get("DATABASE_URL") or None
SERVER_REDIS_URL = os.environ.get("REDIS_URL") or None

# Every variable the app reads; tests set each one so a developer's .env never leaks in.
APP_VARIABLES = [
    "APP_ENV",
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "BASE_URL",
    "HSTS_ENABLED",
    "CSP_FORM_ACTION",
    "PORT",
    "INSTANCE_PATH",
    "QUEUE_NAME",
    "RATELIMIT_KEY_PREFIX",
    "RATELIMIT_ENABLED",
    "MAIL_SERVER",
    "MAIL_PORT",
    "MAIL_USERNAME",
    "MAIL_PASSWORD",
    "MAIL_USE_TLS",
    "MAIL_USE_SSL",
    "MAIL_DEFAULT_SENDER",
    "CONTACT_RECIPIENT",
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE",
    "SCHEDULER_TIMEZONE",
    "WORKER_CONCURRENCY",
    "LOG_LEVEL",
    "PROXY_HOPS",
    "MAX_CONTENT_LENGTH",
    "MAX_FORM_MEMORY_SIZE",
    "MAX_FORM_PARTS",
    "STRIPE_WEBHOOK_MAX_BYTES",
    "LOGIN_LIMIT_PER_IP",
    "LOGIN_LIMIT_PER_ACCOUNT",
    "LOGIN_LIMIT_PER_ACCOUNT_IP",
    "SIGNUP_LIMIT_PER_IP",
    "VERIFY_RESEND_LIMIT_PER_USER",
    "RESET_LIMIT_PER_IP",
    "RESET_LIMIT_PER_ACCOUNT",
    "HUEY_RESULT_TTL",
    "PASSWORD_RESET_MAX_AGE",
    "EMAIL_CHANGE_MAX_AGE",
    "EMAIL_VERIFY_MAX_AGE",
    "KNOWN_DEVICE_DAYS",
    "LAST_SEEN_INTERVAL",
    "MAIL_TIMEOUT",
    "MAIL_KEEPALIVE",
    "MAIL_MAX_PER_CONNECTION",
    "MAIL_RETRIES",
    "MAIL_RETRY_BASE",
    "MAIL_RETRY_CAP",
    "MAIL_RETRY_FOR",
    "MAIL_PROBE_INTERVAL",
    "MAIL_SEND_LEASE",
    "MAIL_SWEEP_INTERVAL",
    "MAIL_SWEEP_GRACE",
    "SCHEDULER_TICK",
    "SCHEDULER_SWEEP_INTERVAL",
    "SCHEDULER_ENQUEUE_GRACE",
    "JOB_LEASE",
    "SWEEP_GRACE",
    "OUTCOME_RETRY_FOR",
    "DB_WAIT",
    "DB_CONNECT_TIMEOUT",
    "REPORT_LEASE",
    "REPORT_RETRIES",
    "REPORT_RETRY_BASE",
    "STRIPE_LEASE",
    "JOB_RETENTION_DAYS",
    "HEARTBEAT_INTERVAL",
    "OUTAGE_BACKOFF_CAP",
    "REDIS_TIMEOUT",
    "CARD_EXPIRY_WINDOW_DAYS",
    "INACTIVE_AFTER_DAYS",
    "INACTIVE_DELETE_AFTER_DAYS",
    "INACTIVE_DELETE_WARNING_DAYS",
    "JOB_BATCH_SIZE",
    "STRIPE_TIMEOUT",
    "REPORT_RETENTION_HOURS",
    "WEB_THREADS",
    "WEB_CONCURRENCY",
    "REPORT_PROGRESS_INTERVAL",
    "REPORT_STREAM_SECONDS",
    "REPORT_STREAMS_PER_USER",
    "REPORT_LIMIT_PER_USER",
    "REPORT_QUEUED_PER_USER",
    "STRIPE_RETRIES",
    "STRIPE_RETRY_BASE",
    "STRIPE_RETRY_CAP",
    "STRIPE_PRICE_PRO",
    "STRIPE_PRICE_TEAM",
    "CONTACT_LIMIT_PER_VISITOR",
    "CONTACT_LIMIT_PER_IP",
    "CONTACT_ACK_LIMIT_PER_RECIPIENT",
]


def _admin_engine() -> sa.Engine:
    url = make_url(database_uri(SERVER_DATABASE_URL, Path("."))).set(database="postgres")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


class PostgresDatabases:
    """A migrated template database per session, copied for each test."""

    def __init__(self):
        self.template = f"saas_test_template_{uuid.uuid4().hex[:8]}"
        self.engine = _admin_engine()
        self._execute(f'CREATE DATABASE "{self.template}"')

    def _execute(self, sql: str) -> None:
        with self.engine.connect() as connection:
            connection.execute(sa.text(sql))

    def url(self, name: str) -> str:
        return (
            make_url(database_uri(SERVER_DATABASE_URL, Path(".")))
            .set(database=name)
            .render_as_string(hide_password=False)
        )

    def template_url(self) -> str:
        return self.url(self.template)

    def create(self) -> str:
        name = f"saas_test_{uuid.uuid4().hex[:12]}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return name

    def drop(self, name: str) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self.drop(self.template)
        self.engine.dispose()


class SqliteDatabases:
    """A migrated template file per session, copied for each test."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.template = folder / "template.db"

    def template_url(self) -> str:
        return f"sqlite:///{self.template}"

    def create_in(self, instance: Path) -> str:
        instance.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.template, instance / "saas.db")
        return f"sqlite:///{instance / 'saas.db'}"


def delete_redis_keys(fragment: str) -> None:
    client = redis.Redis.from_url(SERVER_REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"*{fragment}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
