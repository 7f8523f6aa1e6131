"""A `limits` storage in a SQLite file, so the web processes of the embedded default share their
rate limits (the Procfile runs two; each one's memory would double every limit).

Fixed windows, which is the strategy Flask-Limiter uses here: one row per key holds the count and
when its window ends. Each operation is one statement, atomic across processes; WAL lets readers
go on while another process writes."""

import sqlite3
import threading
import time
from urllib.parse import urlsplit

from limits.storage import Storage

SCHEMA = """CREATE TABLE IF NOT EXISTS rate_limits (
    key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires_at REAL NOT NULL)"""
INCREMENT = """INSERT INTO rate_limits (key, count, expires_at) VALUES (:key, :amount, :expires)
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN expires_at <= :now THEN :amount ELSE count + :amount END,
        expires_at = CASE WHEN expires_at <= :now THEN :expires ELSE expires_at END
    RETURNING count"""
PURGE_EVERY = 1000  # increments between deletions of ended windows, per process


class SQLiteStorage(Storage):
    STORAGE_SCHEME = ["sqlite"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = urlsplit(uri).path
        self.timeout = float(options.get("timeout", 10))
        self._local = threading.local()
        self._increments = 0
        self._connection().execute(SCHEMA)

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _connection(self) -> sqlite3.Connection:
        """One autocommit connection per thread: sqlite3 connections are not shared."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        self._increments += 1
        if self._increments % PURGE_EVERY == 0:
            self._connection().execute("DELETE FROM rate_limits WHERE expires_at <= ?", (now,))
        values = {"key": key, "amount": amount, "expires": now + expiry, "now": now}
        return self._connection().execute(INCREMENT, values).fetchone()[0]

    def _live_row(self, key: str) -> tuple[int, float] | None:
        return (
            self._connection()
            .execute(
                "SELECT count, expires_at FROM rate_limits WHERE key = ? AND expires_at > ?",
                (key, time.time()),
            )
            .fetchone()
        )

    def get(self, key: str) -> int:
        row = self._live_row(key)
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._live_row(key)
        return row[1] if row else time.time()

    def check(self) -> bool:
        try:
            self._connection().execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        return self._connection().execute("DELETE FROM rate_limits").rowcount

    def clear(self, key: str) -> None:
        self._connection().execute("DELETE FROM rate_limits WHERE key = ?", (key,))
