"""The scheduler's notion of now: one function, so tests can compress or move time."""

from datetime import datetime

from saas.database import now_utc


def now() -> datetime:
    return now_utc()
