"""Declarative base, naming convention and time helpers shared by every model. A leaf: it
imports nothing from saas, so every layer may import it."""

import logging
import sqlite3
import time
from datetime import UTC, datetime

from sqlalchemy import DateTime, Engine, MetaData, event
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import DeclarativeBase, registry
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

# SQLSTATE classes of a server that is there but cannot take work now: connection exceptions,
# "the database system is shutting down / starting up / in recovery", too many connections.
UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
SQLITE_BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


@event.listens_for(Engine, "connect")
def _tune_sqlite(dbapi_connection, connection_record) -> None:
    # Web and worker threads write at once: WAL lets readers run beside a writer,
    # busy_timeout waits for the lock instead of failing; SQLite enforces FKs only on request.
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def database_unavailable(error: BaseException) -> bool:
    """True when `error` says the database cannot be reached now (restarting, refusing, the
    connection dropped, the pool exhausted while waiting), not that the statement is wrong."""
    if isinstance(error, PoolTimeoutError):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated or isinstance(error, InterfaceError):
        return True
    return isinstance(error, OperationalError) and _unreachable(error.orig)


def _unreachable(orig: BaseException) -> bool:
    if isinstance(orig, sqlite3.Error):
        return getattr(orig, "sqlite_errorname", None) in SQLITE_BUSY
    # psycopg gives no SQLSTATE for a connection that failed on the client side (refused, reset).
    sqlstate = getattr(orig, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(UNAVAILABLE_SQLSTATES)


def ping_when_idle(engine: Engine, idle: float) -> None:
    """pool_pre_ping's check, for a connection that sat in the pool over `idle` seconds only: one
    that a restart broke while it slept is replaced before use, and a busy pool pays no round
    trip per checkout. One that breaks in use fails its request (rerun or 503, see errors.py)."""

    @event.listens_for(engine, "checkin")
    def checked_in(dbapi_connection, connection_record) -> None:
        connection_record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def checked_out(dbapi_connection, connection_record, connection_proxy) -> None:
        since = connection_record.info.get("checked_in_at")
        if since is None or time.monotonic() - since < idle:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError(f"idle connection failed its ping: {error}") from error


def wait_for_connections(engine: Engine, *, wait: float, timeout: float) -> None:
    """New connections of `engine` keep trying while the server is unreachable (a restart takes
    seconds), until `wait` seconds after the outage's first failed try; later ones fail at once
    until a try succeeds, so a long outage does not hold each caller (or /health's every check)
    for `wait` seconds. Each try is bounded by `timeout` on PostgreSQL."""
    outage = {"since": None}  # when this engine's first failed try of the outage was

    @event.listens_for(engine, "do_connect")
    def connect(dialect, connection_record, cargs, cparams):
        if dialect.name == "postgresql":
            cparams.setdefault("connect_timeout", max(1, round(timeout)))
        deadline = (outage["since"] or time.monotonic()) + wait
        connection = _connect_patiently(dialect, cargs, cparams, deadline, outage)
        outage["since"] = None
        return connection


def _connect_patiently(dialect, cargs, cparams, deadline: float, outage: dict):
    pause = 0.05
    while True:
        try:
            return dialect.connect(*cargs, **cparams)
        except dialect.loaded_dbapi.Error as error:
            retryable = isinstance(error, dialect.loaded_dbapi.OperationalError)
            if not retryable or not _unreachable(error):
                raise
            outage["since"] = outage["since"] or time.monotonic()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise
            log.debug("Database unreachable (%s); connecting again", str(error).splitlines()[0])
            time.sleep(min(pause, remaining))  # the last try comes at the deadline
            pause = min(pause * 2, 0.5)


def now_utc() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use saas.database.now_utc()")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime},
    )
