"""Enqueue-to-start latency: how long a task waits in the queue before the worker starts it.

Starts the Procfile's worker (WORKER_CONCURRENCY threads, its own --delay / --max-delay flags) with
a task that notes when it started, then enqueues that task (1) one at a time with random gaps
(idle: the worker waits for each) and (2) at a sustained rate (under load), and prints p50 / p99
of the time from just before each enqueue until the task started, against the targets. Uses
DATABASE_URL / REDIS_URL when set (PostgreSQL + Redis), else the embedded default (Huey's SQLite
storage) in a temporary folder.

    .venv/bin/python -m bench.latency --samples 200 --rate 200 --seconds 5
"""

import argparse
import random
import statistics
import time

from bench.common import Backend, cpu_seconds, start_process
from bench.latency_tasks import note_start, starts_file
from tests.support.procfile import procfile_command

TARGETS_MS = {"SQLite": 250, "PostgreSQL+Redis": 20}  # p99, idle and under load
IDLE_CPU_SECONDS = 5


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200, help="idle: tasks, one at a time")
    parser.add_argument("--max-gap", type=float, default=1.0, help="idle: seconds between them")
    parser.add_argument("--rate", type=float, default=200, help="load: tasks per second")
    parser.add_argument("--seconds", type=float, default=5, help="load: for this long")
    args = parser.parse_args()

    command = procfile_command("worker").replace("saas.worker.huey", "bench.latency_worker.huey")
    with Backend("latency") as backend:
        worker, ready = start_process("worker", ready_marker="consumer started", command=command)
        try:
            if not ready.wait(60):
                raise SystemExit("the worker did not start")
            time.sleep(1)  # let every consumer thread reach its first dequeue
            idle_cpu = cpu_share(worker.pid, IDLE_CPU_SECONDS)
            with backend.app.app_context():
                idle = one_at_a_time(args.samples, args.max_gap)
                load = sustained(args.rate, args.seconds)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    report(backend.label, idle, load, args, idle_cpu)


def cpu_share(pid: int, seconds: float) -> float:
    """The share of one core the process uses over `seconds` (while nothing is queued)."""
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / seconds


def one_at_a_time(samples: int, max_gap: float) -> list[float]:
    """Latencies of `samples` tasks, each enqueued after the previous one ran and a random gap."""
    for number in range(samples):
        time.sleep(random.uniform(0.05, max_gap))
        note_start(time.time())
        wait_for_notes(number + 1)
    return take_notes()


def sustained(rate: float, seconds: float) -> list[float]:
    """Latencies of tasks enqueued at `rate` per second for `seconds` (an open loop: on schedule,
    whatever the worker does)."""
    count = int(rate * seconds)
    started = time.monotonic()
    for number in range(count):
        pause = started + number / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        note_start(time.time())
    wait_for_notes(count)
    return take_notes()


def wait_for_notes(count: int, timeout: float = 60) -> None:
    """Until the worker has noted `count` latencies."""
    path, deadline = starts_file(), time.monotonic() + timeout
    while not path.exists() or len(path.read_text().splitlines()) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"the worker ran fewer than {count} tasks in {timeout} s")
        time.sleep(0.005)


def take_notes() -> list[float]:
    """The latencies noted so far, in seconds; the next case starts a new file."""
    path = starts_file()
    latencies = [float(line) for line in path.read_text().splitlines()]
    path.unlink()
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


def report(label: str, idle: list[float], load: list[float], args, idle_cpu: float) -> None:
    target = TARGETS_MS[label]
    print(f"{label}: enqueue-to-start latency (worker: {procfile_command('worker')})")
    header = ("case", "tasks", "p50", "p99", "max", "p99 target")
    print("| {:<32} | {:>5} | {:>8} | {:>8} | {:>8} | {:<13} |".format(*header))
    print(f"|{'-' * 34}|{'-' * 7}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 15}|")
    cases = (
        (f"idle (gaps 0.05-{args.max_gap:g} s)", idle),
        (f"load ({args.rate:g}/s for {args.seconds:g} s)", load),
    )
    for name, values in cases:
        p50, p99 = percentile(values, 0.50) * 1000, percentile(values, 0.99) * 1000
        verdict = "met" if p99 <= target else "MISSED"
        print(
            f"| {name:<32} | {len(values):>5} | {p50:>5.1f} ms | {p99:>5.1f} ms "
            f"| {max(values) * 1000:>5.1f} ms | {target:>3} ms {verdict:<6} |"
        )
    print(f"idle worker CPU: {idle_cpu * 100:.1f}% of one core (over {IDLE_CPU_SECONDS} s)")


if __name__ == "__main__":
    main()
