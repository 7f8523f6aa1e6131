"""The product's notion of now for every decision by the date (scheduler slots, manual runs'
as_of, card expiry): one function, read as `clock.now()` at call time, so tests can fix,
compress or move time."""

from datetime import datetime

from saas.database import now_utc


def now() -> datetime:
    return now_utc()
