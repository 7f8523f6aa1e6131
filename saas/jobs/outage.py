"""Loops that outlive outages: a tick that fails (database or Redis unreachable) is logged once
when the outage starts and once when it ends, and the loop waits longer between tries (capped)
instead of dying or logging every tick."""

import logging
import threading
import time

from saas.extensions import db


class Outage:
    """The failure state of one loop (or of every thread doing one thing, such as enqueueing):
    `failed()` gives the wait before the next try, `recovered()` ends an outage."""

    def __init__(self, what: str, logger: logging.Logger, *, base: float, cap: float):
        self.what, self.log = what, logger
        self.base, self.cap = base, max(base, cap)
        self.failures = 0
        self.started = 0.0
        self.lock = threading.Lock()

    @property
    def ongoing(self) -> bool:
        return self.failures > 0

    def failed(self, error: BaseException) -> float:
        """Log the first failure of an outage with its traceback; later ones only at DEBUG."""
        with self.lock:
            first = not self.failures
            if first:
                self.started = time.monotonic()
            self.failures += 1
            wait = self.backoff()
        if first:
            self.log.error("%s failed; trying again until it works", self.what, exc_info=error)
        else:
            self.log.debug("%s failed again (%s)", self.what, error)
        return wait

    def backoff(self) -> float:
        """base, 2 base, 4 base ... up to cap; `base` while no outage is going on."""
        return min(self.cap, self.base * 2 ** max(0, self.failures - 1))

    def recovered(self) -> None:
        if not self.failures:  # the usual case, without taking the lock
            return
        with self.lock:
            failures, self.failures = self.failures, 0
        if failures:
            seconds = time.monotonic() - self.started
            self.log.info(
                "%s works again after %d failed tries (%.1f s)", self.what, failures, seconds
            )


def reset_session() -> None:
    """Drop the thread's session whatever state it is in: after a commit whose after_commit hook
    raised, rollback() itself raises InvalidRequestError, remove() (close) does not."""
    try:
        db.session.remove()
    except Exception:  # a connection that died under us: the pool has already let it go
        logging.getLogger(__name__).debug("Closing the session failed", exc_info=True)
