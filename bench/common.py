"""What the benchmarks share: a slow SMTP sink, a fresh backend, and the Procfile's processes."""

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

import flask_migrate
from aiosmtpd.controller import Controller

from saas import create_app
from tests.support.procfile import ROOT, procfile_command
from tests.support.services import SERVER_DATABASE_URL, PostgresDatabases, delete_redis_keys
from tests.support.smtp import free_port


class SlowSink:
    """An SMTP server on 127.0.0.1 that takes `delay` seconds to accept each message."""

    def __init__(self, delay: float):
        self.delay, self.received = delay, 0
        self._arrivals = threading.Condition()
        self._waiting_for: int | None = None
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        responses.insert(-1, "250-PIPELINING")  # as most servers do (RFC 2920)
        return responses

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        with self._arrivals:
            self.received += 1
            # Only the last arrival wakes the waiter: waking it on each would take the GIL
            # from this event loop a thousand times during a drain.
            if self._waiting_for is not None and self.received >= self._waiting_for:
                self._arrivals.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float) -> bool:
        """Block until `count` messages have arrived, or `timeout` seconds passed."""
        with self._arrivals:
            self._waiting_for = count
            try:
                return self._arrivals.wait_for(lambda: self.received >= count, timeout)
            finally:
                self._waiting_for = None

    def __enter__(self) -> "SlowSink":
        self._controller.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._controller.stop()


class Backend:
    """A fresh database and queue: PostgreSQL + Redis when DATABASE_URL / REDIS_URL are set
    (a new database, dropped afterwards), else the embedded default in a temporary folder."""

    def __init__(self, name: str, **env: str):
        self.instance = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self.databases = PostgresDatabases() if SERVER_DATABASE_URL else None
        self.unique = uuid.uuid4().hex[:8]
        self.label = "PostgreSQL+Redis" if self.databases else "SQLite"
        self.env = {
            "APP_ENV": "test",
            "SECRET_KEY": "bench",
            "INSTANCE_PATH": str(self.instance),
            "DATABASE_URL": self.databases.template_url() if self.databases else "",
            "QUEUE_NAME": f"bench-{self.unique}",  # Huey drops the dash from its Redis keys
            "RATELIMIT_KEY_PREFIX": f"bench-{self.unique}",
            "LOG_LEVEL": "WARNING",
            **env,
        }

    def __enter__(self):
        os.environ.update(self.env)
        self.app = create_app()
        with self.app.app_context():
            flask_migrate.upgrade()
        return self

    def __exit__(self, *exc_info) -> None:
        from saas.extensions import db  # noqa: PLC0415 - bound to self.app only here

        with self.app.app_context():
            db.engine.dispose()
        if self.databases:
            delete_redis_keys(self.unique)
            self.databases.close()
        shutil.rmtree(self.instance, ignore_errors=True)


def start_process(process: str, ready_marker: str, command: str | None = None):
    """Run a Procfile process (or `command`) as the shell would; the returned event is set once
    its log shows `ready_marker`. Warnings and errors from its log are passed on."""
    command = command or procfile_command(process)
    popen = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready = threading.Event()

    def read_log() -> None:
        for line in popen.stderr:
            if ready_marker in line:
                ready.set()
            elif any(level in line for level in ("WARNING", "ERROR", "CRITICAL", "Traceback")):
                sys.stderr.write(f"[{process}] {line}")

    threading.Thread(target=read_log, daemon=True).start()
    return popen, ready


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
