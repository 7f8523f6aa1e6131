"""POST /contact under load: the product against three variants of the same view.

One gunicorn worker process (the Procfile's web command with WEB_CONCURRENCY=1), an SMTP sink that
takes SMTP_DELAY s per message, wrk (Debian package `wrk`) on 127.0.0.1 with CONNECTIONS open
connections. Every request carries the session cookie and CSRF token of one visitor and its own
X-Forwarded-For address (PROXY_HOPS=1), so CSRF and both rate limits are checked on every request
and none is refused. No worker runs: this measures the web process alone. Needs DATABASE_URL and
REDIS_URL for the numbers the README quotes; without them it runs on the embedded default.

    .venv/bin/python -m bench.contact_load --connections 1,2,4 --duration 10
"""

import argparse
import http.client
import itertools
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from bench.common import Backend, SlowSink, start_process
from saas.contact.models import ContactMessage
from saas.extensions import db, huey
from saas.mail.models import OutboundEmail
from tests.support.smtp import free_port

VARIANTS = {
    "(a) no email (ceiling)": "/bench/contact/no-email",
    "(b) plain Huey enqueue": "/bench/contact/huey",
    "outbox (the product)": "/contact",
    "(c) synchronous SMTP": "/bench/contact/sync",
}
# Each run gets addresses of its own, so no run meets the rate limits another run used up.
ADDRESS_BLOCKS = itertools.count(10)
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [[BODY]]
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = [[COOKIE]]
local counter = 0
function setup(thread)
  thread_count = (thread_count or 0) + 1
  thread:set("thread_id", thread_count)
end
request = function()
  counter = counter + 1
  local n = thread_id * 1000000 + counter
  wrk.headers["X-Forwarded-For"] = string.format(
    "FIRST_OCTET.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  return wrk.format("POST", nil, nil, nil)
end
"""


@dataclass
class Result:
    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float
    bad_responses: int


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--connections",
        default="1,2,4",
        help="comma-separated load levels: open connections, one table each",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per variant")
    parser.add_argument("--sync-duration", type=int, default=20, help="seconds for (c)")
    parser.add_argument("--smtp-delay", type=float, default=2.0)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    port = free_port()
    with SlowSink(args.smtp_delay) as sink:
        env = {
            "APP_ENV": "production",
            "PORT": str(port),
            "WEB_CONCURRENCY": "1",
            "PROXY_HOPS": "1",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(sink.port),
            # Every request writes from one address: keep its acknowledgements flowing, as before.
            "CONTACT_ACK_LIMIT_PER_RECIPIENT": "1000000000 per day",
        }
        with Backend("contact", **env) as backend:
            command = procfile_web_command()
            web, ready = start_process("web", ready_marker="Booting worker", command=command)
            try:
                if not ready.wait(60):
                    raise SystemExit("gunicorn did not start")
                base = f"http://127.0.0.1:{port}"
                wait_until_serving(base)
                levels = [int(level) for level in args.connections.split(",")]
                results = {c: run_variants(backend.app, base, c, args) for c in levels}
            finally:
                web.terminate()
                web.wait(timeout=30)
    for connections, level_results in results.items():
        report(level_results, backend.label, connections, args.smtp_delay)


def procfile_web_command() -> str:
    from tests.support.procfile import procfile_command  # noqa: PLC0415

    return procfile_command("web").replace(
        '"saas:create_app()"', '"bench.contact_variants:create_app()"'
    )


def run_variants(app, base: str, connections: int, args) -> dict[str, Result]:
    results = {}
    wrk(base, "/bench/contact/no-email", connections, 3, visitor_request(base, "/contact"))
    for name, path in VARIANTS.items():
        duration = args.sync_duration if "synchronous" in name else args.duration
        before = counts(app)
        result = wrk(base, path, connections, duration, visitor_request(base, path))
        after = counts(app)
        stored = after["messages"] - before["messages"]
        if stored < result.requests - result.bad_responses:
            raise SystemExit(f"{name}: {result.requests} answered but {stored} stored")
        print(
            f"{connections} connections, {name}: {result.requests} requests, "
            f"{stored} messages stored, "
            f"{after['outbox'] - before['outbox']} outbox rows, "
            f"{after['queued'] - before['queued']} tasks queued",
            flush=True,
        )
        results[name] = result
    return results


def wait_until_serving(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            get(base, "/health")
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn does not answer")


def get(base: str, path: str) -> http.client.HTTPResponse:
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


def visitor_request(base: str, path: str) -> dict:
    """The cookie, token and form body of one visitor who loaded the form."""
    response = get(base, path)
    cookie = response.getheader("Set-Cookie").split(";", 1)[0]
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', response.body)[1]
    body = urllib.parse.urlencode(
        {
            "csrf_token": token.decode(),
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "message": "Hello! I would like to know more about the team plan.",
            "website": "",
        }
    )
    return {"cookie": cookie, "body": body}


def wrk(base: str, path: str, connections: int, duration: int, visitor: dict) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            WRK_SCRIPT.replace("BODY", visitor["body"])
            .replace("COOKIE", visitor["cookie"])
            .replace("FIRST_OCTET", str(next(ADDRESS_BLOCKS)))
        )
    output = subprocess.run(
        [
            "wrk",
            f"--connections={connections}",
            f"--threads={min(connections, 2)}",
            f"--duration={duration}s",
            "--timeout=30s",
            "--latency",
            f"--script={script.name}",
            base + path,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    Path(script.name).unlink()
    return parse_wrk(output)


def parse_wrk(output: str) -> Result:
    def latency(percentile: str) -> float:
        pattern = rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s)\s*$"
        value, unit = re.search(pattern, output, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Result(
        requests=int(re.search(r"(\d+) requests in", output)[1]),
        per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        bad_responses=int(bad[1]) if bad else 0,
    )


def counts(app) -> dict[str, int]:
    with app.app_context():
        total = {
            "messages": db.session.scalar(db.select(db.func.count(ContactMessage.id))),
            "outbox": db.session.scalar(db.select(db.func.count(OutboundEmail.id))),
            "queued": huey.pending_count(),
        }
        db.session.rollback()
        return total


def report(results: dict[str, Result], backend: str, connections: int, smtp_delay: float):
    print(
        f"\nPOST /contact, {backend}, gunicorn 1 worker process, {connections} connections, "
        f"SMTP sink {smtp_delay:g} s per message"
    )
    print(f"{'variant':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-303':>8}")
    for name, result in results.items():
        print(
            f"{name:28} {result.per_second:9.1f} {result.p50_ms:8.2f} {result.p99_ms:8.2f} "
            f"{result.bad_responses:8d}"
        )
    product = results["outbox (the product)"]
    ceiling = results["(a) no email (ceiling)"].per_second
    synchronous = results["(c) synchronous SMTP"].per_second
    checks = [
        (f"p99 {product.p99_ms:.1f} ms <= 15 ms", product.p99_ms <= 15),
        (
            f"{product.per_second / ceiling:.0%} of (a)'s requests/s >= 50%",
            product.per_second >= ceiling / 2,
        ),
        (
            f"{product.per_second / synchronous:.0f}x (c)'s throughput >= 200x",
            product.per_second >= 200 * synchronous,
        ),
    ]
    for text, met in checks:
        print(f"  {'met' if met else 'MISSED'}: {text}")


if __name__ == "__main__":
    main()
