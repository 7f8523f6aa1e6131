"""Open progress streams per user, capped: each stream holds a web thread for up to
REPORT_STREAM_SECONDS, so one login opening hundreds would starve every other visitor.

The count is per web process, on purpose: what a stream uses up is a thread of that process's
pool, so that is what the cap protects (with N processes a user may hold N x the cap in all)."""

import threading
from collections.abc import Callable
from functools import partial

from flask import current_app
from werkzeug.exceptions import TooManyRequests

EXTENSION = "report_streams"
REFUSED = (
    "You have too many progress pages open. This page will check for progress every few seconds "
    "instead of live."
)


class StreamSlots:
    """Thread-safe: gunicorn's gthread workers serve streams from many threads at once."""

    def __init__(self):
        self._lock = threading.Lock()
        self._held: dict[int, set[object]] = {}

    def take(self, user_id: int, cap: int) -> Callable[[], None] | None:
        """A slot for one more stream of `user_id`, as its release function; None at the cap."""
        with self._lock:
            held = self._held.setdefault(user_id, set())
            if len(held) >= cap:
                return None
            slot = object()
            held.add(slot)
        return partial(self._release, user_id, slot)

    def _release(self, user_id: int, slot: object) -> None:
        # Idempotent: the stream's end and the response's close may both call it.
        with self._lock:
            held = self._held.get(user_id, set())
            held.discard(slot)
            if not held:
                self._held.pop(user_id, None)


def init_app(app) -> None:
    app.extensions[EXTENSION] = StreamSlots()


def open_slot(user_id: int) -> Callable[[], None]:
    """The release function of a new stream slot; 429 with Retry-After beyond the cap."""
    release = current_app.extensions[EXTENSION].take(
        user_id, current_app.config["REPORT_STREAMS_PER_USER"]
    )
    if release is None:
        # A slot frees up at the latest when a stream reaches its lifetime.
        retry_after = max(1, int(current_app.config["REPORT_STREAM_SECONDS"]))
        raise TooManyRequests(REFUSED, retry_after=retry_after)
    return release
