"""The task bench.latency enqueues (a module of its own: run as __main__, the benchmark would
register it under another name than the worker does)."""

import time
from pathlib import Path

from flask import current_app

from saas.extensions import huey


def starts_file() -> Path:
    """Where the task notes its latencies, one a line (no result in Huey: writing one would load
    the queue's storage while it is measured)."""
    return Path(current_app.config["INSTANCE_PATH"]) / "latency-starts.txt"


@huey.task()
def note_start(enqueued_at: float) -> None:
    """Note the seconds from the enqueue (time.time() in the benchmark's process) until now."""
    latency = time.time() - enqueued_at
    with starts_file().open("a") as file:
        file.write(f"{latency:.6f}\n")
