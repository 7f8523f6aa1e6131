"""POST /contact under load: the product against variants of the same view and a bare one.

The Procfile's web command, once per WEB_CONCURRENCY level (gunicorn worker processes), an SMTP
sink that takes SMTP_DELAY s per message, wrk (Debian package `wrk`) on 127.0.0.1 with CONNECTIONS
open connections. Every request carries the session cookie and CSRF token of one visitor and its
own X-Forwarded-For address (PROXY_HOPS=1), so CSRF and both rate limits are checked on every
request and none is refused. (z), the bare view, gets the same body without the cookie. (c), the
synchronous view, only waits on SMTP: it runs at the first WEB_CONCURRENCY level only (or never,
with --skip-sync). No worker runs: this measures the web processes alone. Needs DATABASE_URL and
REDIS_URL for the numbers the README quotes; without them it runs on the embedded default.

    .venv/bin/python -m bench.contact_load --connections 1,2,4 --web-concurrency 1,2 --duration 10
"""

import argparse
import http.client
import itertools
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.common import Backend, SlowSink, start_process
from saas.contact.models import ContactMessage
from saas.extensions import db, huey
from saas.mail.models import OutboundEmail
from tests.support.procfile import procfile_command
from tests.support.smtp import free_port

BARE = "(z) bare insert + enqueue"
CEILING = "(a) no email (ceiling)"
PRODUCT = "outbox (the product)"
SYNCHRONOUS = "(c) synchronous SMTP"
VARIANTS = {
    BARE: "/bench/contact/bare",
    CEILING: "/bench/contact/no-email",
    "(b) plain Huey enqueue": "/bench/contact/huey",
    PRODUCT: "/contact",
    SYNCHRONOUS: "/bench/contact/sync",
}
# Tries at spreading wrk's connections evenly over the gunicorn processes.
BALANCE_ATTEMPTS = 20
# Each run gets addresses of its own, so no run meets the rate limits another run used up.
# A block is 3 million addresses (wrk's two threads, a million each): five per first octet,
# 10 to 223.
ADDRESS_BLOCKS = itertools.count(10 * 5)
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [[BODY]]
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
COOKIE_HEADER
local counter = 0
function setup(thread)
  thread_count = (thread_count or 0) + 1
  thread:set("thread_id", thread_count)
end
request = function()
  counter = counter + 1
  local n = BLOCK_OFFSET + thread_id * 1000000 + counter
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
    spread: str = ""  # wrk's connections per gunicorn process, most first


def main() -> None:
    args = parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    levels = [int(level) for level in args.connections.split(",")]
    processes = [int(level) for level in args.web_concurrency.split(",")]
    results: dict[tuple[int, int], dict[str, Result]] = {}
    with SlowSink(args.smtp_delay) as sink:
        env = {
            "APP_ENV": "production",
            "PROXY_HOPS": "1",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(sink.port),
            # Every request writes from one address: keep its acknowledgements flowing, as before.
            "CONTACT_ACK_LIMIT_PER_RECIPIENT": "1000000000 per day",
        }
        with Backend("contact", **env) as backend:
            for workers in processes:
                variants = dict(VARIANTS)
                if args.skip_sync or workers != processes[0]:
                    del variants[SYNCHRONOUS]
                with gunicorn(workers) as base:
                    warm_up(base, variants, max(*levels, 2 * workers))
                    for connections in levels:
                        results[workers, connections] = run_variants(
                            backend.app,
                            base,
                            workers=workers,
                            connections=connections,
                            variants=variants,
                            args=args,
                        )
    for (workers, connections), cell in results.items():
        report(cell, backend.label, workers, connections, args.smtp_delay)
    report_targets(results)
    print_markdown(results)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--connections",
        default="1,2,4",
        help="comma-separated load levels: open connections, one table each",
    )
    parser.add_argument(
        "--web-concurrency",
        default="1,2",
        help="comma-separated WEB_CONCURRENCY levels (gunicorn worker processes), one run each",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per variant")
    parser.add_argument("--sync-duration", type=int, default=20, help="seconds for (c)")
    parser.add_argument(
        "--skip-sync", action="store_true", help="leave out (c) (it runs at the first level only)"
    )
    parser.add_argument("--smtp-delay", type=float, default=2.0)
    return parser.parse_args()


@contextmanager
def gunicorn(workers: int):
    """The Procfile's web command with `workers` processes; yields its base URL."""
    port = free_port()
    os.environ.update({"PORT": str(port), "WEB_CONCURRENCY": str(workers)})
    web, ready = start_process("web", ready_marker="Booting worker", command=web_command())
    try:
        if not ready.wait(60):
            raise SystemExit("gunicorn did not start")
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base)
        yield base
    finally:
        web.terminate()
        web.wait(timeout=30)


def web_command() -> str:
    return procfile_command("web").replace(
        '"saas:create_app()"', '"bench.contact_variants:create_app()"'
    )


def run_variants(
    app, base: str, *, workers: int, connections: int, variants: dict[str, str], args
) -> dict[str, Result]:
    results = {}
    wrk(base, VARIANTS[CEILING], connections, 2, visitor_request(base, "/contact"))
    for name, path in variants.items():
        duration = args.sync_duration if name == SYNCHRONOUS else args.duration
        before = counts(app)
        visitor = visitor_for(base, name, path)
        result = wrk(base, path, connections, duration, visitor, workers=workers)
        after = counts(app)
        stored = after["messages"] - before["messages"]
        if stored < result.requests - result.bad_responses:
            raise SystemExit(f"{name}: {result.requests} answered but {stored} stored")
        print(
            f"{workers} processes, {connections} connections, {name}: "
            f"{result.requests} requests (connections per process {result.spread}), "
            f"{stored} messages stored, "
            f"{after['outbox'] - before['outbox']} outbox rows, "
            f"{after['queued'] - before['queued']} tasks queued",
            flush=True,
        )
        results[name] = result
    return results


def warm_up(base: str, variants: dict[str, str], connections: int) -> None:
    """A second each on every fast variant, with connections enough to reach every process."""
    for name, path in variants.items():
        if name != SYNCHRONOUS:
            wrk(base, path, connections, 1, visitor_for(base, name, path))


def visitor_for(base: str, name: str, path: str) -> dict:
    """(z) takes the form's body without the visitor's cookie: it has no session to load."""
    if name == BARE:
        return {"cookie": None, "body": visitor_request(base, "/contact")["body"]}
    return visitor_request(base, path)


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


def wrk(
    base: str, path: str, connections: int, duration: int, visitor: dict, *, workers: int = 1
) -> Result:
    """Run wrk; with several processes, start over (up to BALANCE_ATTEMPTS times) while its
    connections are unevenly spread over them: gunicorn keeps a connection on the process that
    accepted it, and one process often accepts them all."""
    for attempt in range(1, BALANCE_ATTEMPTS + 1):
        script = wrk_script(visitor)  # addresses of its own: an attempt counts against limits
        process = subprocess.Popen(
            [
                "wrk",
                f"--connections={connections}",
                f"--threads={min(connections, 2)}",
                f"--duration={duration}s",
                "--timeout=30s",
                "--latency",
                f"--script={script}",
                base + path,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.3)
        spread = connections_per_process(urllib.parse.urlsplit(base).port)
        if balanced(spread, connections, workers) or attempt == BALANCE_ATTEMPTS:
            break
        process.kill()
        process.wait()
        script.unlink()
    output, _ = process.communicate()
    script.unlink()
    if process.returncode:
        raise SystemExit(f"wrk failed ({process.returncode})")
    result = parse_wrk(output)
    result.spread = "+".join(str(count) for count in sorted(spread, reverse=True))
    if attempt > 1:
        result.spread += f" at try {attempt}"
    return result


def wrk_script(visitor: dict) -> Path:
    first_octet, offset = divmod(next(ADDRESS_BLOCKS), 5)
    if first_octet > 223:
        raise SystemExit("out of X-Forwarded-For addresses: fewer runs or balance attempts")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            WRK_SCRIPT.replace("BODY", visitor["body"])
            .replace("COOKIE_HEADER", cookie_header(visitor["cookie"]))
            .replace("FIRST_OCTET", str(first_octet))
            .replace("BLOCK_OFFSET", str(offset * 3_000_000))
        )
    return Path(script.name)


def connections_per_process(port: int) -> list[int]:
    """How many established connections to `port` each process holds (`ss`, Linux)."""
    output = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return list(Counter(re.findall(r"pid=(\d+)", output)).values())


def balanced(spread: list[int], connections: int, workers: int) -> bool:
    if workers == 1:
        return True
    return len(spread) == min(workers, connections) and max(spread) - min(spread) <= 1


def cookie_header(cookie: str | None) -> str:
    return f'wrk.headers["Cookie"] = [[{cookie}]]' if cookie else ""


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


def report(
    results: dict[str, Result], backend: str, workers: int, connections: int, smtp_delay: float
) -> None:
    print(
        f"\nPOST /contact, {backend}, gunicorn {workers} worker process(es), "
        f"{connections} connections, SMTP sink {smtp_delay:g} s per message"
    )
    print(f"{'variant':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-303':>8} {'÷ (z)':>6}")
    bare = results[BARE].per_second
    for name, result in results.items():
        print(
            f"{name:28} {result.per_second:9.1f} {result.p50_ms:8.2f} {result.p99_ms:8.2f} "
            f"{result.bad_responses:8d} {share(result.per_second, bare):>6}"
        )
    product = results[PRODUCT].per_second
    print(
        f"  product / (z): {share(product, bare)}, "
        f"product / (a): {share(product, results[CEILING].per_second)}"
    )
    for name, result in results.items():
        if result.bad_responses:
            print(f"  WARNING: {name}: {result.bad_responses} answers were not 303")


def report_targets(results: dict[tuple[int, int], dict[str, Result]]) -> None:
    """The issue's targets, each checked wherever this run measured it."""
    print("\nTargets (product = outbox (the product)):")
    for (workers, connections), cell in results.items():
        product, bare, ceiling = cell[PRODUCT], cell[BARE], cell[CEILING]
        where = f"{workers} process(es), {connections} connection(s)"
        checks = [
            (
                f"{share(product.per_second, ceiling.per_second)} of (a)'s req/s >= 85%",
                product.per_second >= 0.85 * ceiling.per_second,
            )
        ]
        if connections == 1:
            checks.append(
                (
                    f"{share(product.per_second, bare.per_second)} of (z)'s req/s >= 50%",
                    product.per_second >= 0.5 * bare.per_second,
                )
            )
        if (workers, connections) == (2, 4):
            checks.append((f"p99 {product.p99_ms:.1f} ms <= 15 ms", product.p99_ms <= 15))
        if SYNCHRONOUS in cell and cell[SYNCHRONOUS].requests:
            synchronous = cell[SYNCHRONOUS].per_second
            checks.append(
                (
                    f"{product.per_second / synchronous:.0f}x (c)'s throughput >= 200x",
                    product.per_second >= 200 * synchronous,
                )
            )
        elif SYNCHRONOUS in cell:
            print(f"  not measured: {where}: (c) answered no request in --sync-duration")
        for text, met in checks:
            print(f"  {'met' if met else 'MISSED'}: {where}: {text}")
        if any(result.bad_responses for result in cell.values()):
            print(f"  WARNING: {where}: some answers were not 303 (see its table)")
    if (2, 4) not in results:
        print("  not measured: p99 <= 15 ms at 4 connections with WEB_CONCURRENCY=2")


def print_markdown(results: dict[tuple[int, int], dict[str, Result]]) -> None:
    """Every number of the run as one table for the README, the product's row in bold."""
    print("\n| connections | processes | variant | req/s | p50 | p99 | ratio to (z) |")
    print("|---|---|---|---|---|---|---|")
    for workers, connections in sorted(results, key=lambda key: (key[1], key[0])):
        cell = results[workers, connections]
        bare = cell[BARE].per_second
        for name, result in cell.items():
            columns = [
                name,
                f"{result.per_second:.1f}",
                duration(result.p50_ms),
                duration(result.p99_ms),
                share(result.per_second, bare),
            ]
            if name == PRODUCT:
                columns = [f"**{column}**" for column in columns]
            print(f"| {connections} | {workers} | " + " | ".join(columns) + " |")


def share(value: float, reference: float) -> str:
    return f"{value / reference:.0%}" if reference else "-"


def duration(milliseconds: float) -> str:
    if milliseconds >= 1000:
        return f"{milliseconds / 1000:.2f} s"
    return f"{milliseconds:.1f} ms"


if __name__ == "__main__":
    main()
