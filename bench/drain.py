"""Drain benchmark: N emails through the outbox to an SMTP sink that takes DELAY s per message.

Starts one real worker process (the Procfile's worker command, WORKER_CONCURRENCY threads), waits
until it is consuming, commits N outbox rows in one transaction and prints how long it took from
that commit until every row was sent, and the worker's CPU time per email. Uses DATABASE_URL /
REDIS_URL when set (a fresh database is created and dropped), else the embedded default in a
temporary folder.

    .venv/bin/python -m bench.drain --emails 1000 --smtp-delay 0.2 --concurrency 50
"""

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import flask_migrate
from aiosmtpd.controller import Controller

from saas import create_app
from saas.extensions import db
from saas.mail import send_email
from saas.mail.models import SENT, OutboundEmail
from tests.support.services import SERVER_DATABASE_URL, PostgresDatabases, delete_redis_keys
from tests.support.smtp import free_port

ROOT = Path(__file__).resolve().parent.parent


class SlowSink:
    def __init__(self, delay: float):
        self.delay, self.received = delay, 0

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        self.received += 1
        return "250 OK"


def worker_command() -> str:
    line = next(
        ln for ln in (ROOT / "Procfile").read_text().splitlines() if ln.startswith("worker:")
    )
    return line.partition(":")[2].strip()


def start_worker() -> tuple[subprocess.Popen, threading.Event]:
    """The Procfile's worker; the event is set once the consumer logs that it has started."""
    worker = subprocess.Popen(
        ["bash", "-c", f"exec {worker_command()}"],
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    started = threading.Event()

    def read_log() -> None:
        for line in worker.stderr:
            if "consumer started" in line:
                started.set()
            elif "INFO" not in line and not line.startswith(("+ ", "The following")):
                sys.stderr.write(line)

    threading.Thread(target=read_log, daemon=True).start()
    return worker, started


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--smtp-delay", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    sink, port = SlowSink(args.smtp_delay), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    databases = PostgresDatabases() if SERVER_DATABASE_URL else None
    unique = uuid.uuid4().hex[:8]
    queue = f"bench-{unique}"  # Huey drops the dash from its Redis keys
    env = {
        "APP_ENV": "test",
        "SECRET_KEY": "bench",
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": databases.template_url() if databases else "",
        "QUEUE_NAME": queue,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(port),
        "WORKER_CONCURRENCY": str(args.concurrency),
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    app = create_app()
    with app.app_context():
        flask_migrate.upgrade()
    backend = "PostgreSQL+Redis" if databases else "SQLite"
    worker, worker_started = start_worker()
    try:
        if not worker_started.wait(60):
            raise SystemExit("the worker did not start")
        time.sleep(1)  # let every consumer thread reach its first dequeue
        cpu_before = cpu_seconds(worker.pid)
        with app.app_context():
            for number in range(args.emails):
                send_email(to=f"user{number}@example.com", template="password_changed")
            started = time.monotonic()
            db.session.commit()  # the rows become due, and their tasks are enqueued
            while True:
                sent = db.session.execute(
                    db.select(db.func.count()).where(OutboundEmail.status == SENT)
                ).scalar_one()
                db.session.rollback()
                if sent >= args.emails or time.monotonic() - started > 300:
                    break
                time.sleep(0.02)
        elapsed = time.monotonic() - started
        worker_cpu = cpu_seconds(worker.pid) - cpu_before
        floor = args.emails * args.smtp_delay / args.concurrency
        print(
            f"{backend}: drained {sent}/{args.emails} emails in {elapsed:.2f}s from the commit "
            f"(floor {floor:.1f}s at {args.concurrency} concurrent sends); "
            f"worker CPU {worker_cpu / max(sent, 1) * 1000:.1f} ms per email; "
            f"SMTP sink received {sink.received}"
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        controller.stop()
        with app.app_context():
            db.engine.dispose()
        if databases:
            delete_redis_keys(unique)
            databases.close()


if __name__ == "__main__":
    main()
