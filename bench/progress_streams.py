"""Ordinary pages while many report progress streams are open.

Starts the Procfile's web command (WEB_CONCURRENCY, WEB_THREADS as set), logs one customer in,
asks for STREAMS Server-Sent-Event progress streams on a report that keeps running (each reconnects
when the server ends it, as EventSource does; past REPORT_STREAMS_PER_USER the server refuses with
429), then measures GET / with wrk and prints p50/p99.

    .venv/bin/python -m bench.progress_streams --streams 200
"""

import argparse
import re
import subprocess
import threading
import time

import requests

from bench.common import Backend, start_process
from bench.contact_load import parse_wrk, wait_until_serving
from saas.auth.models import User
from saas.extensions import db
from saas.reports.models import Report, ReportStatus
from tests.support.smtp import free_port


def open_streams(base: str, cookies, public_id: str, count: int, stop: threading.Event):
    """`count` watchers of one login; returns (opened, refused), growing lists of 1s. A refused
    watcher polls instead, as the page does."""
    opened, refused = [], []

    def poll(session) -> None:
        """What the page does once its stream is refused: GET /progress every 2 s."""
        while not stop.wait(2):
            session.get(f"{base}/reports/{public_id}/progress", timeout=60)

    def watch() -> None:
        with requests.Session() as session:
            session.cookies.update(cookies)
            while not stop.is_set():
                try:
                    with session.get(
                        f"{base}/reports/{public_id}/events", stream=True, timeout=60
                    ) as response:
                        if response.status_code != 200:  # 429 past the per-user cap
                            refused.append(1)
                            poll(session)
                            return
                        opened.append(1)
                        for _ in response.iter_lines():
                            if stop.is_set():
                                return
                except requests.RequestException:
                    time.sleep(0.5)

    threads = [threading.Thread(target=watch, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return opened, refused


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    port = free_port()
    with Backend("streams", APP_ENV="test", PORT=str(port)) as backend:
        with backend.app.app_context():
            user = User(email="watcher@example.com")
            user.set_password("watcher-password")
            db.session.add(user)
            db.session.flush()
            report = Report(
                user_id=user.id, kind="account_export", status=ReportStatus.RUNNING, total=100
            )
            db.session.add(report)
            db.session.commit()
            public_id = report.public_id
        web, ready = start_process("web", ready_marker="Booting worker")
        stop = threading.Event()
        try:
            ready.wait(60)
            base = f"http://127.0.0.1:{port}"
            wait_until_serving(base)
            session = requests.Session()
            page = session.get(f"{base}/login").text
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]
            session.post(
                f"{base}/login",
                data={
                    "email": "watcher@example.com",
                    "password": "watcher-password",
                    "csrf_token": token,
                },
            )
            opened, refused = open_streams(base, session.cookies, public_id, args.streams, stop)
            deadline = time.monotonic() + 60
            while len(opened) + len(refused) < args.streams and time.monotonic() < deadline:
                time.sleep(0.2)
            output = subprocess.run(
                [
                    "wrk",
                    "--connections=4",
                    "--threads=2",
                    f"--duration={args.duration}s",
                    "--timeout=10s",
                    "--latency",
                    f"{base}/",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            result = parse_wrk(output)
            print(
                f"{args.streams} watchers of one login: {len(opened)} streams opened, "
                f"{len(refused)} refused (429, then polling); GET / "
                f"{result.per_second:.0f} req/s, p50 {result.p50_ms:.1f} ms, "
                f"p99 {result.p99_ms:.1f} ms, non-2xx {result.bad_responses}"
            )
        finally:
            stop.set()
            web.terminate()
            web.wait(timeout=30)


if __name__ == "__main__":
    main()
