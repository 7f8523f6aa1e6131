"""A 300 MiB body to the Stripe webhook, with a bogus signature: refused, and the web process's
memory barely moves.

Starts the Procfile's web command (one gunicorn worker) on 127.0.0.1, then sends the body from
a generator twice (with Content-Length, then chunked) over a raw socket while a thread samples
the gunicorn worker's VmRSS (/proc) every 5 ms; prints the status and the peak RSS growth.

    .venv/bin/python -m bench.big_body
"""

import argparse
import socket
import threading
import time
from pathlib import Path

from bench.common import Backend, start_process
from bench.contact_load import wait_until_serving
from tests.support.procfile import procfile_command
from tests.support.smtp import free_port

MIB = 1024 * 1024
CHUNK = b"x" * (64 * 1024)
TARGET_MB = 20


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


def worker_pid(master: int) -> int:
    """The gunicorn worker: the master's only child."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise SystemExit("gunicorn started no worker")


class PeakRss:
    """The highest VmRSS of `pid` while the block runs, sampled every 5 ms."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.005)

    def __enter__(self) -> "PeakRss":
        self.peak = rss_kib(self.pid)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()


def body(size: int, chunked: bool):
    """The body's bytes from a generator, as HTTP chunks when `chunked`."""
    sent = 0
    while sent < size:
        piece = CHUNK[: size - sent]
        sent += len(piece)
        yield b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
    if chunked:
        yield b"0\r\n\r\n"


def head(port: int, size: int, chunked: bool) -> bytes:
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    return (
        f"POST /billing/webhook HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nStripe-Signature: t=1,v1=bogus\r\n"
        f"{length}\r\nConnection: close\r\n\r\n"
    ).encode()


def send(port: int, size: int, chunked: bool) -> tuple[str, int]:
    """(status line, body bytes sent before the server answered or closed)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    answer, sent = [], [0]

    def read_answer() -> None:
        answer.append(sock.recv(4096))

    reader = threading.Thread(target=read_answer, daemon=True)
    reader.start()
    try:
        sock.sendall(head(port, size, chunked))
        for piece in body(size, chunked):
            if answer:
                break
            sock.sendall(piece)
            sent[0] += len(piece)
    except OSError:
        pass  # the server answered and closed while the body was still coming
    reader.join(timeout=30)
    sock.close()
    status = answer[0].split(b"\r\n", 1)[0].decode() if answer and answer[0] else "no answer"
    return status, sent[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=300)
    args = parser.parse_args()
    port = free_port()
    env = {
        "APP_ENV": "development",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "STRIPE_WEBHOOK_SECRET": "whsec_bench",
    }
    with Backend("big-body", **env):
        command = procfile_command("web").replace("0.0.0.0", "127.0.0.1")
        web, ready = start_process("web", ready_marker="Booting worker", command=command)
        try:
            ready.wait(60)
            wait_until_serving(f"http://127.0.0.1:{port}")
            run(port, worker_pid(web.pid), args.mib * MIB)
        finally:
            web.terminate()
            web.wait(timeout=30)


def run(port: int, pid: int, size: int) -> None:
    worst = 0.0
    for chunked in (False, True):
        before = rss_kib(pid)
        with PeakRss(pid) as rss:
            started = time.monotonic()
            status, sent = send(port, size, chunked)
            seconds = time.monotonic() - started
        growth = (rss.peak - before) / 1024
        worst = max(worst, growth)
        label = "chunked" if chunked else "Content-Length"
        print(
            f"{size // MIB} MiB body ({label}): {status}, {sent / MIB:.1f} MiB sent before the "
            f"answer, {seconds:.2f} s; worker RSS {before / 1024:.1f} MB, "
            f"peak growth {growth:.1f} MB"
        )
    verdict = "OK" if worst < TARGET_MB else "OVER TARGET"
    print(f"peak RSS growth {worst:.1f} MB (target < {TARGET_MB} MB): {verdict}")


if __name__ == "__main__":
    main()
