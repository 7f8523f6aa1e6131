"""The retry policy every task shares: exponential backoff with full jitter, and a cap."""

import random
from dataclasses import dataclass


class PermanentError(Exception):
    """A failure that retrying cannot fix (e.g. SMTP 5xx: unknown recipient)."""


class TransientError(Exception):
    """A failure worth retrying (e.g. connection refused, timeout, SMTP 4xx)."""


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

    def should_retry(self, attempts_made: int, error: BaseException) -> bool:
        return not isinstance(error, PermanentError) and attempts_made <= self.retries
