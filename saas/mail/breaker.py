"""The mail transport's circuit breaker, shared by the threads of one worker process.

An attempt whose connection is refused or times out trips it: the server is down. While it is,
deliveries neither try SMTP nor spend an attempt: their task comes back when the next probe is
due. One thread at a time probes (just connects), every MAIL_PROBE_INTERVAL seconds; the first
probe that connects closes the breaker and sends resume. One breaker per mail server (host,
port and the rest of the connection settings)."""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Breaker:
    name: str
    interval: float  # seconds between probes while down
    clock: Callable[[], float] = time.monotonic
    down_since: float | None = None
    next_probe_at: float = 0.0
    probing: bool = False
    reason: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def is_down(self) -> bool:
        return self.down_since is not None

    def trip(self, reason: str) -> None:
        """Mark the server down (logged once per outage); the next probe is an interval away."""
        with self._lock:
            now = self.clock()
            if self.down_since is None:
                self.down_since = now
                log.warning(
                    "Mail server %s is down (%s); sends wait for a probe every %gs",
                    self.name,
                    reason,
                    self.interval,
                )
            self.reason = reason
            self.next_probe_at = max(self.next_probe_at, now + self.interval)

    def begin_probe(self) -> bool:
        """True for the one caller that should probe now: down, due, and no probe under way.
        The next probe is set an interval away at once, so the others know when to come back."""
        with self._lock:
            now = self.clock()
            if self.down_since is None or self.probing or now < self.next_probe_at:
                return False
            self.probing = True
            self.next_probe_at = now + self.interval
            return True

    def probe_failed(self, reason: str) -> None:
        with self._lock:
            self.probing, self.reason = False, reason
            self.next_probe_at = self.clock() + self.interval

    def probe_succeeded(self) -> None:
        """Close the breaker: sends resume."""
        with self._lock:
            if self.down_since is not None:
                log.warning(
                    "Mail server %s is back after %.0fs", self.name, self.clock() - self.down_since
                )
            self.down_since, self.probing, self.reason = None, False, ""

    def wait(self) -> float:
        """Seconds until the next probe is due (a little while when one is due now)."""
        with self._lock:
            return max(self.next_probe_at - self.clock(), 0.5)


_breakers: dict[tuple, Breaker] = {}
_registry_lock = threading.Lock()


def breaker_for(settings: tuple, interval: float) -> Breaker:
    """This process's breaker for the server that `settings` (host, port, ...) describe."""
    with _registry_lock:
        breaker = _breakers.get(settings)
        if breaker is None:
            name = ":".join(str(part) for part in settings[:2])
            breaker = _breakers[settings] = Breaker(name, interval)
        breaker.interval = interval
        return breaker
