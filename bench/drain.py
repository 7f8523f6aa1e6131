"""Drain benchmark: N emails through the outbox to an SMTP sink that takes DELAY s per message.

Starts P real worker processes (the Procfile's worker command; each has `--concurrency` threads,
WORKER_CONCURRENCY, so P x concurrency sends run at once), waits until they are consuming, commits
N outbox rows in one transaction and prints how long it took from its COMMIT (the rows are
inserted just before, untimed) until every row was sent (the enqueue of the N tasks after the
commit is part of it; its own time is printed too), and the workers' CPU time per email.
`--warm-up` drains that many emails first, untimed. Uses DATABASE_URL / REDIS_URL when set (a
fresh database is created and dropped), else the embedded default in a temporary folder.

    .venv/bin/python -m bench.drain --emails 1000 --smtp-delay 0.2 --concurrency 50
    .venv/bin/python -m bench.drain --emails 1000 --smtp-delay 0.2 --concurrency 50 --processes 2
"""

import argparse
import gc
import time

from bench.common import Backend, SlowSink, cpu_seconds, start_process
from saas.extensions import db
from saas.mail import send_email
from saas.mail.models import EmailStatus, OutboundEmail


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--smtp-delay", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=50, help="threads per worker process")
    parser.add_argument("--processes", type=int, default=1, help="worker processes")
    parser.add_argument(
        "--db-pool",
        type=int,
        default=20,
        help="DB_POOL_SIZE of each worker: a send holds no connection, so 50 threads share few",
    )
    parser.add_argument(
        "--warm-up",
        type=int,
        default=0,
        help="emails drained first, untimed, so the workers' database and SMTP connections are "
        "open as in a worker that has been running (0: time a cold worker)",
    )
    args = parser.parse_args()

    with SlowSink(args.smtp_delay) as sink:
        mail_env = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(sink.port)}
        with Backend(
            "drain",
            WORKER_CONCURRENCY=str(args.concurrency),
            DB_POOL_SIZE=str(args.db_pool),
            **mail_env,
        ) as backend:
            workers = [
                start_process("worker", ready_marker="consumer started")
                for _ in range(args.processes)
            ]
            try:
                for _, ready in workers:
                    if not ready.wait(60):
                        raise SystemExit("a worker did not start")
                time.sleep(1)  # let every consumer thread reach its first dequeue
                if args.warm_up:
                    drain(backend.app, sink, args.warm_up)
                    time.sleep(1)
                cpu_before = sum(cpu_seconds(worker.pid) for worker, _ in workers)
                elapsed, enqueued, sent = drain(backend.app, sink, args.emails)
                worker_cpu = sum(cpu_seconds(worker.pid) for worker, _ in workers) - cpu_before
            finally:
                for worker, _ in workers:
                    worker.terminate()
                for worker, _ in workers:
                    worker.wait(timeout=30)
    sends = args.concurrency * args.processes
    floor = args.emails * args.smtp_delay / sends
    print(
        f"{backend.label}, {args.processes} worker process(es) x {args.concurrency} threads"
        f"{f' (warmed up by {args.warm_up} emails)' if args.warm_up else ' (cold)'}: "
        f"drained {sent}/{args.emails} emails in {elapsed:.2f}s from the commit "
        f"(floor {floor:.1f}s at {sends} concurrent sends; commit + enqueue {enqueued:.2f}s); "
        f"worker CPU {worker_cpu / max(sent, 1) * 1000:.1f} ms per email; "
        f"SMTP sink received {sink.received - args.warm_up}"
    )


def drain(app, sink: SlowSink, emails: int) -> tuple[float, float, int]:
    """Commit `emails` outbox rows at once; seconds until the commit (with its enqueues) returned
    and until all are sent (gives up after 300 s), and how many were sent."""
    with app.app_context():
        sent_before = _sent_count()
        received_before = sink.received
        for number in range(emails):
            send_email(to=f"user{number}@example.com", template="password_changed")
        # The INSERTs are the producer's work, not the drain's: no worker sees a row before the
        # COMMIT, which is where the timing starts.
        db.session.flush()
        # The sink runs in this process: a full collection of the producer's objects while it
        # drains (50-90 ms) would hold every reply back; collect them now, untimed, instead.
        gc.collect()
        gc.disable()
        try:
            started = time.monotonic()
            db.session.commit()  # the rows become visible, and their tasks are enqueued
            enqueued = time.monotonic() - started
            # Counting rows while they drain would take CPU from the workers on a small
            # machine: wait for the sink to have them all, then for their rows to say so.
            sink.wait_for(received_before + emails, timeout=300)
            while True:
                sent = _sent_count() - sent_before
                if sent >= emails or time.monotonic() - started > 300:
                    return time.monotonic() - started, enqueued, sent
                time.sleep(0.002)
        finally:
            gc.enable()


def _sent_count() -> int:
    count = db.session.execute(
        db.select(db.func.count()).where(OutboundEmail.status == EmailStatus.SENT)
    ).scalar_one()
    db.session.rollback()
    return count


if __name__ == "__main__":
    main()
