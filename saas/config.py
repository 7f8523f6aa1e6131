"""Configuration: the only module that reads the environment."""

import os
from pathlib import Path

from dotenv import load_dotenv

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRET_KEY = "change-me"
NOT_PRODUCTION = ("development", "test")


class ConfigurationError(RuntimeError):
    """The environment does not describe a runnable app."""


def _get(name: str, default: str | None = None) -> str | None:
    # An empty value means unset, so `KEY=` in .env falls back to the default.
    return os.environ.get(name) or default


def _get_bool(name: str, default: bool = False) -> bool:
    value = _get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _get_int(name: str, default: int) -> int:
    return int(_get(name, str(default)))


def database_uri(url: str | None, instance_path: Path) -> str:
    """SQLAlchemy URI for DATABASE_URL; Heroku-style postgres:// URLs use psycopg 3."""
    if not url:
        return f"sqlite:///{instance_path / 'saas.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def redis_timeouts() -> dict:
    """Seconds a Redis client waits to connect and for an answer: an outage fails fast."""
    seconds = float(_get("REDIS_TIMEOUT", "2"))
    return {"socket_connect_timeout": seconds, "socket_timeout": seconds}


def _ratelimit_storage_options(redis_url: str | None) -> dict:
    if not redis_url:
        return {}
    return {"key_prefix": _get("RATELIMIT_KEY_PREFIX", "saas-limits"), **redis_timeouts()}


def from_environment() -> dict:
    """Every setting the app reads, from the process environment and `.env`."""
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    instance_path = Path(_get("INSTANCE_PATH", str(PROJECT_ROOT / "instance")))
    base_url = _get("BASE_URL", "http://localhost:5000").rstrip("/")
    redis_url = _get("REDIS_URL")
    secure_cookies = base_url.startswith("https://")
    return {
        "APP_ENV": _get("APP_ENV", "production"),
        "SECRET_KEY": _get("SECRET_KEY", DEFAULT_SECRET_KEY),
        "INSTANCE_PATH": str(instance_path),
        "BASE_URL": base_url,
        "LOG_LEVEL": _get("LOG_LEVEL", "INFO").upper(),
        "LOG_FORMAT": _get("LOG_FORMAT", "text").lower(),  # text | json (one object a line)
        "PROXY_HOPS": _get_int("PROXY_HOPS", 0),
        # Request bodies: larger ones are answered 413 before they are read; form fields are
        # parsed in memory up to MAX_FORM_MEMORY_SIZE, and at most MAX_FORM_PARTS of them.
        "MAX_CONTENT_LENGTH": _get_int("MAX_CONTENT_LENGTH", 1024 * 1024),
        "MAX_FORM_MEMORY_SIZE": _get_int("MAX_FORM_MEMORY_SIZE", 512 * 1024),
        "MAX_FORM_PARTS": _get_int("MAX_FORM_PARTS", 100),
        # Database
        "SQLALCHEMY_DATABASE_URI": database_uri(_get("DATABASE_URL"), instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {
            # No pool_pre_ping: a round trip per request; connections idle over DB_PING_IDLE
            # seconds are pinged instead (saas.database.ping_when_idle).
            # Connections a process keeps (up to 10 more while busier). By default one per worker
            # thread, so a task never queues for one; a worker that mostly sends email needs
            # fewer (a send holds none), and PostgreSQL's max_connections bounds the sum.
            "pool_size": _get_int("DB_POOL_SIZE", max(5, _get_int("WORKER_CONCURRENCY", 8))),
            "max_overflow": 10,
            # A request waits this long for a free connection, then answers 503.
            "pool_timeout": float(_get("DB_WAIT", "10")),
        },
        # While the database is unreachable (a restart), a new connection keeps trying for
        # DB_WAIT seconds, each try bounded by DB_CONNECT_TIMEOUT; a request whose connection
        # dropped before it committed runs again within DB_WAIT; past it: 503 with Retry-After.
        "DB_WAIT": float(_get("DB_WAIT", "10")),
        "DB_CONNECT_TIMEOUT": float(_get("DB_CONNECT_TIMEOUT", "5")),
        "DB_PING_IDLE": float(_get("DB_PING_IDLE", "1")),
        # Queue
        "REDIS_URL": redis_url,
        "REDIS_TIMEOUTS": redis_timeouts(),
        "QUEUE_NAME": _get("QUEUE_NAME", "saas"),
        "HUEY_SQLITE_PATH": str(instance_path / "huey.db"),
        "HUEY_RESULT_TTL": _get_int("HUEY_RESULT_TTL", 3600),
        "WORKER_CONCURRENCY": _get_int("WORKER_CONCURRENCY", 8),
        "SCHEDULER_TIMEZONE": _get("SCHEDULER_TIMEZONE", "UTC"),
        "SCHEDULER_TICK": float(_get("SCHEDULER_TICK", "5")),
        "SCHEDULER_SWEEP_INTERVAL": float(_get("SCHEDULER_SWEEP_INTERVAL", "30")),
        "SCHEDULER_ENQUEUE_GRACE": float(_get("SCHEDULER_ENQUEUE_GRACE", "120")),
        "JOB_LEASE": _get_int("JOB_LEASE", 600),
        # Durable work: how long a pending row's task may be overdue before the sweep enqueues it
        # again (kinds without a setting of their own), and how long a worker keeps trying to
        # write an outcome while the database is unreachable.
        "SWEEP_GRACE": float(_get("SWEEP_GRACE", "60")),
        "OUTCOME_RETRY_FOR": float(_get("OUTCOME_RETRY_FOR", "300")),
        "JOB_RETENTION_DAYS": _get_int("JOB_RETENTION_DAYS", 90),
        "HEARTBEAT_INTERVAL": float(_get("HEARTBEAT_INTERVAL", "15")),
        # A loop (scheduler tick, heartbeat, outbox sweep) whose database or Redis is down
        # waits twice as long after each failed try, up to this many seconds.
        "OUTAGE_BACKOFF_CAP": float(_get("OUTAGE_BACKOFF_CAP", "30")),
        # Jobs
        "CARD_EXPIRY_WINDOW_DAYS": _get_int("CARD_EXPIRY_WINDOW_DAYS", 30),
        "INACTIVE_AFTER_DAYS": _get_int("INACTIVE_AFTER_DAYS", 182),
        "INACTIVE_DELETE_AFTER_DAYS": _get_int("INACTIVE_DELETE_AFTER_DAYS", 0),
        "INACTIVE_DELETE_WARNING_DAYS": _get_int("INACTIVE_DELETE_WARNING_DAYS", 14),
        "JOB_BATCH_SIZE": _get_int("JOB_BATCH_SIZE", 1000),
        # Reports
        "REPORT_DIR": str(instance_path / "reports"),
        "REPORT_RETENTION_HOURS": _get_int("REPORT_RETENTION_HOURS", 168),
        "REPORT_PROGRESS_INTERVAL": float(_get("REPORT_PROGRESS_INTERVAL", "0.5")),
        "REPORT_LEASE": _get_int("REPORT_LEASE", 60),
        # A build that fails (or whose worker is lost) is tried again this many times.
        "REPORT_RETRIES": _get_int("REPORT_RETRIES", 2),
        "REPORT_RETRY_BASE": float(_get("REPORT_RETRY_BASE", "5")),
        "REPORT_STREAM_SECONDS": float(_get("REPORT_STREAM_SECONDS", "25")),
        # Per user: open progress streams in each web process (each holds one of its threads;
        # beyond, 429 and the page polls), report requests (new or retried) that queued a build,
        # and reports waiting or being built at once.
        "REPORT_STREAMS_PER_USER": _get_int("REPORT_STREAMS_PER_USER", 4),
        "REPORT_LIMIT_PER_USER": _get("REPORT_LIMIT_PER_USER", "10 per hour"),
        "REPORT_QUEUED_PER_USER": _get_int("REPORT_QUEUED_PER_USER", 3),
        # Rate limits (Flask-Limiter): in Redis, or without it in a SQLite file every web
        # process of this machine shares (saas/ratelimit_sqlite.py)
        "RATELIMIT_STORAGE_URI": redis_url or f"sqlite:///{instance_path / 'limits.db'}",
        # A storage option, not Flask-Limiter's own prefix, which keeps its first app's value.
        "RATELIMIT_STORAGE_OPTIONS": _ratelimit_storage_options(redis_url),
        # Redis down: each web process limits in its own memory (the same limits), and a Redis
        # error after the view ran (a deduction) is logged, never turned into a 500.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_ENABLED": _get_bool("RATELIMIT_ENABLED", True),
        "LOGIN_LIMIT_PER_IP": _get("LOGIN_LIMIT_PER_IP", "20 per minute;200 per day"),
        # Wrong passwords for one account from one IP: a growing wait (only failures count)
        "LOGIN_LIMIT_PER_ACCOUNT_IP": _get(
            "LOGIN_LIMIT_PER_ACCOUNT_IP", "5 per minute;10 per 10 minutes;20 per hour;40 per day"
        ),
        # Wrong passwords for one account from anywhere: past it the account is locked, except
        # to its owner's right password from a browser or IP they signed in from before
        "LOGIN_LIMIT_PER_ACCOUNT": _get("LOGIN_LIMIT_PER_ACCOUNT", "20 per hour;100 per day"),
        "SIGNUP_LIMIT_PER_IP": _get("SIGNUP_LIMIT_PER_IP", "5 per minute;20 per hour"),
        "VERIFY_RESEND_LIMIT_PER_USER": _get("VERIFY_RESEND_LIMIT_PER_USER", "3 per hour"),
        "RESET_LIMIT_PER_IP": _get("RESET_LIMIT_PER_IP", "10 per hour"),
        "RESET_LIMIT_PER_ACCOUNT": _get("RESET_LIMIT_PER_ACCOUNT", "3 per hour"),
        # Accounts
        "PASSWORD_MIN_LENGTH": 10,
        "PASSWORD_RESET_MAX_AGE": _get_int("PASSWORD_RESET_MAX_AGE", 3600),
        "EMAIL_CHANGE_MAX_AGE": _get_int("EMAIL_CHANGE_MAX_AGE", 86400),
        "EMAIL_VERIFY_MAX_AGE": _get_int("EMAIL_VERIFY_MAX_AGE", 7 * 86400),
        "KNOWN_DEVICE_DAYS": _get_int("KNOWN_DEVICE_DAYS", 365),
        "LAST_SEEN_INTERVAL": _get_int("LAST_SEEN_INTERVAL", 300),
        # Security headers: HSTS over https (BASE_URL https or an https request), and where
        # forms (and their redirects: Checkout, the Portal) may go.
        "HSTS_ENABLED": _get_bool("HSTS_ENABLED", True),
        "CSP_FORM_ACTION": _get(
            "CSP_FORM_ACTION", "'self' https://checkout.stripe.com https://billing.stripe.com"
        ),
        # Cookies
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure_cookies,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure_cookies,
        "PREFERRED_URL_SCHEME": "https" if secure_cookies else "http",
        # Mail; no MAIL_SERVER writes .eml files under instance/mail/
        "MAIL_SERVER": _get("MAIL_SERVER"),
        "MAIL_PORT": _get_int("MAIL_PORT", 25),
        "MAIL_USERNAME": _get("MAIL_USERNAME"),
        "MAIL_PASSWORD": _get("MAIL_PASSWORD"),
        "MAIL_USE_TLS": _get_bool("MAIL_USE_TLS"),
        "MAIL_USE_SSL": _get_bool("MAIL_USE_SSL"),
        "MAIL_DEFAULT_SENDER": _get("MAIL_DEFAULT_SENDER", "SaaS <no-reply@localhost>"),
        "MAIL_TIMEOUT": _get_int("MAIL_TIMEOUT", 10),
        # Each worker thread keeps its SMTP connection for the next email (0 s: never).
        "MAIL_KEEPALIVE": float(_get("MAIL_KEEPALIVE", "10")),
        "MAIL_MAX_PER_CONNECTION": _get_int("MAIL_MAX_PER_CONNECTION", 100),
        "MAIL_FILE_DIR": str(instance_path / "mail"),
        "MAIL_RETRIES": _get_int("MAIL_RETRIES", 5),
        "MAIL_RETRY_BASE": float(_get("MAIL_RETRY_BASE", "4")),
        "MAIL_RETRY_CAP": float(_get("MAIL_RETRY_CAP", "300")),
        # After the quick tries, transient failures go on (every MAIL_RETRY_CAP seconds) until
        # the email is this many seconds old (0: no time budget).
        "MAIL_RETRY_FOR": float(_get("MAIL_RETRY_FOR", "86400")),
        # While the mail server refuses connections, one worker thread probes it this often.
        "MAIL_PROBE_INTERVAL": float(_get("MAIL_PROBE_INTERVAL", "5")),
        "MAIL_SEND_LEASE": _get_int("MAIL_SEND_LEASE", 120),
        # 0: the scheduler's sweep_outbox job sweeps; > 0: each worker also sweeps on its own.
        "MAIL_SWEEP_INTERVAL": float(_get("MAIL_SWEEP_INTERVAL", "0")),
        "MAIL_SWEEP_GRACE": float(_get("MAIL_SWEEP_GRACE", "60")),
        "CONTACT_RECIPIENT": _get("CONTACT_RECIPIENT", "support@localhost"),
        "CONTACT_LIMIT_PER_VISITOR": _get("CONTACT_LIMIT_PER_VISITOR", "1 per 10 seconds"),
        "CONTACT_LIMIT_PER_IP": _get("CONTACT_LIMIT_PER_IP", "5 per minute;30 per hour"),
        # Acknowledgements sent to one address (normalised as accounts are); past it the message
        # is still stored and sent to CONTACT_RECIPIENT, only the acknowledgement is not.
        "CONTACT_ACK_LIMIT_PER_RECIPIENT": _get("CONTACT_ACK_LIMIT_PER_RECIPIENT", "3 per day"),
        # Stripe
        "STRIPE_SECRET_KEY": _get("STRIPE_SECRET_KEY"),
        "STRIPE_PUBLISHABLE_KEY": _get("STRIPE_PUBLISHABLE_KEY"),
        "STRIPE_WEBHOOK_SECRET": _get("STRIPE_WEBHOOK_SECRET"),
        "STRIPE_API_BASE": _get("STRIPE_API_BASE"),
        "STRIPE_TIMEOUT": float(_get("STRIPE_TIMEOUT", "10")),
        # A webhook body larger than this is refused (413) before its signature is checked.
        "STRIPE_WEBHOOK_MAX_BYTES": _get_int("STRIPE_WEBHOOK_MAX_BYTES", 256 * 1024),
        # How long an event's processing or a card sync may go without renewing its lease.
        "STRIPE_LEASE": _get_int("STRIPE_LEASE", 120),
        # Retries of Stripe calls made from the worker (429 honours Retry-After).
        "STRIPE_RETRIES": _get_int("STRIPE_RETRIES", 5),
        "STRIPE_RETRY_BASE": float(_get("STRIPE_RETRY_BASE", "2")),
        "STRIPE_RETRY_CAP": float(_get("STRIPE_RETRY_CAP", "300")),
        "BILLING_PLANS": [
            {
                "key": "pro",
                "name": "Pro",
                "price_id": _get("STRIPE_PRICE_PRO", "price_pro_monthly"),
                "amount": 1900,
                "currency": "usd",
                "interval": "month",
                "features": ["5 projects", "100,000 jobs a month", "Scheduled jobs"],
            },
            {
                "key": "team",
                "name": "Team",
                "price_id": _get("STRIPE_PRICE_TEAM", "price_team_monthly"),
                "amount": 4900,
                "currency": "usd",
                "interval": "month",
                "features": ["Unlimited projects", "1,000,000 jobs a month", "Team members"],
            },
        ],
    }


def in_production(config) -> bool:
    """Any APP_ENV but development or test ("Production", "prod", "staging") is production."""
    return str(config.get("APP_ENV") or "").strip().lower() not in NOT_PRODUCTION


def check(config: dict) -> None:
    """Refuse settings that are unsafe to run in production."""
    if config.get("LOG_FORMAT", "text") not in ("text", "json"):
        raise ConfigurationError(f"LOG_FORMAT must be text or json, not {config['LOG_FORMAT']!r}.")
    production = in_production(config) and not config.get("TESTING")
    if production and config["SECRET_KEY"] in (None, "", DEFAULT_SECRET_KEY):
        raise ConfigurationError(
            "SECRET_KEY is missing or left at its default: set SECRET_KEY to a long random "
            "value (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)."
        )
