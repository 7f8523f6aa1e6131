"""Waiting for something another process does."""

import time
import urllib.request


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def wait_until_serving(url: str, timeout: float = 30.0) -> str:
    """Wait until `url`/health answers (a web process just started); returns `url`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2)
            return url
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
