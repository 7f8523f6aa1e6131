"""The one retry decision every kind of durable work shares: which failures are worth another
attempt, and when; exponential backoff with equal jitter, a cap, and optionally a time budget
that keeps transient failures retrying (at the cap) long after the quick tries."""

import random
from dataclasses import dataclass


class PermanentError(Exception):
    """A failure that retrying cannot fix (e.g. SMTP 5xx: unknown recipient; Stripe 4xx)."""


class TransientError(Exception):
    """A failure worth retrying (e.g. connection refused, timeout, SMTP 4xx, Stripe 429).
    `retry_after` (seconds), when the other side said how long to wait."""

    def __init__(self, message: str = "", retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def is_permanent(error: BaseException) -> bool:
    """The one classification: only a PermanentError is not worth retrying. Anything else (a
    network or database error, a deadlock, a bug fixed by a deploy) gets the policy's retries."""
    return isinstance(error, PermanentError)


def duration_text(seconds: float) -> str:
    """`24 h`, `90 min`, `45 s`: a budget as people read it on an error."""
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{seconds:g} s"


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 5
    base: float = 4.0
    cap: float = 300.0
    # Seconds since the work was created (its age) during which transient failures keep being
    # retried after the `retries` quick ones; None: the quick tries are all there is.
    retry_for: float | None = None

    def backoff(self, attempt: int) -> float:
        """Upper bound before retry `attempt` (1-based): base, 2*base, 4*base... capped."""
        return min(self.cap, self.base * 2 ** min(attempt - 1, 64))

    def delay(self, attempt: int) -> float:
        """Equal jitter: at least half the backoff, so retries spread out without any of them
        coming so soon that a short outage eats the budget."""
        backoff = self.backoff(attempt)
        return random.uniform(backoff / 2, backoff)

    def exhausted(self, attempts_made: int, age: float | None = None) -> bool:
        """Past the quick tries and, with a time budget, past it too (an unknown age is)."""
        if attempts_made <= self.retries:
            return False
        return self.retry_for is None or age is None or age >= self.retry_for

    def retry_delay(
        self, attempts_made: int, error: BaseException, age: float | None = None
    ) -> float | None:
        """Seconds until the next attempt, or None when this failure is final. Never sooner
        than the other side's Retry-After."""
        if is_permanent(error) or self.exhausted(attempts_made, age):
            return None
        delay = self.delay(attempts_made)
        retry_after = getattr(error, "retry_after", None)
        return max(delay, retry_after) if retry_after else delay

    def final_reason(self, error: BaseException) -> str | None:
        """What the stored error starts with when a failure is final because the time budget
        ran out (None otherwise: a permanent error, or a policy with quick tries only)."""
        if is_permanent(error) or self.retry_for is None:
            return None
        return f"gave up after {duration_text(self.retry_for)} of transient failures"
