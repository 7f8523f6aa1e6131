"""The one retry decision every kind of durable work shares: which failures are worth another
attempt, and when; exponential backoff with full jitter, and a cap."""

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


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 5
    base: float = 4.0
    cap: float = 300.0

    def backoff(self, attempt: int) -> float:
        """Upper bound before retry `attempt` (1-based): base, 2*base, 4*base... capped."""
        return min(self.cap, self.base * 2 ** (attempt - 1))

    def delay(self, attempt: int) -> float:
        """Full jitter: a uniform draw below the backoff, so retries of many tasks spread out."""
        return random.uniform(0, self.backoff(attempt))

    def exhausted(self, attempts_made: int) -> bool:
        return attempts_made > self.retries

    def retry_delay(self, attempts_made: int, error: BaseException) -> float | None:
        """Seconds until the next attempt, or None when this failure is final. Never sooner
        than the other side's Retry-After."""
        if is_permanent(error) or self.exhausted(attempts_made):
            return None
        delay = self.delay(attempts_made)
        retry_after = getattr(error, "retry_after", None)
        return max(delay, retry_after) if retry_after else delay
