"""Scheduled jobs at scale, on PostgreSQL (DATABASE_URL) and Redis (REDIS_URL).

Fills a fresh database with N customers (each with a card, expiries spread evenly over the next
60 months; every tenth customer last seen 200 days ago), starts the Procfile's worker with one
thread, enqueues an ad hoc run of the job, and prints the run's duration (from its run record),
the outbox rows written and the worker's peak memory (VmHWM).

    .venv/bin/python -m bench.scheduled_jobs --job mark_expiring_cards --users 1000000
    .venv/bin/python -m bench.scheduled_jobs --job remind_inactive_users --users 1000000
"""

import argparse
import time
from pathlib import Path

from sqlalchemy import text

from bench.common import Backend, start_process
from saas.extensions import db
from saas.jobs.models import FINISHED, JobRun
from saas.jobs.runner import enqueue_manual_run
from saas.mail.models import OutboundEmail
from tests.support.services import SERVER_DATABASE_URL

FILL_USERS = """
INSERT INTO users (email, password_hash, role, active, created_at, password_changed_at,
                   last_seen_at, sign_in_count)
SELECT 'user' || n || '@example.com', 'not-a-real-hash', 'member', true,
       now() - interval '400 days', now() - interval '400 days',
       CASE WHEN n % 10 = 0 THEN now() - interval '200 days' ELSE now() - interval '1 day' END,
       1
FROM generate_series(1, :users) AS n
"""
FILL_CARDS = """
INSERT INTO cards (user_id, brand, last4, exp_month, exp_year, expiring_soon,
                   created_at, updated_at)
SELECT id, 'visa', lpad((id % 10000)::text, 4, '0'),
       ((:this_month + id % 60) % 12) + 1, :this_year + (:this_month + id % 60) / 12, false,
       now(), now()
FROM users
"""


def peak_memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fill(app, users: int) -> None:
    started = time.monotonic()
    now = time.gmtime()
    with app.app_context():
        db.session.execute(text(FILL_USERS), {"users": users})
        db.session.execute(
            text(FILL_CARDS), {"this_month": now.tm_mon - 1, "this_year": now.tm_year}
        )
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    print(f"filled {users} users and cards in {time.monotonic() - started:.1f}s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--job", default="mark_expiring_cards")
    parser.add_argument("--users", type=int, default=1_000_000)
    args = parser.parse_args()
    if not SERVER_DATABASE_URL:
        raise SystemExit("set DATABASE_URL (PostgreSQL) and REDIS_URL")

    with Backend("jobs", WORKER_CONCURRENCY="1") as backend:
        fill(backend.app, args.users)
        worker, ready = start_process("worker", ready_marker="consumer started")
        try:
            if not ready.wait(60):
                raise SystemExit("the worker did not start")
            with backend.app.app_context():
                run = enqueue_manual_run(args.job)
                db.session.commit()
                run_id = run.id
                while True:
                    run = db.session.get(JobRun, run_id, populate_existing=True)
                    db.session.rollback()
                    if run.status in FINISHED:
                        break
                    time.sleep(0.2)
                emails = db.session.scalar(db.select(db.func.count(OutboundEmail.id)))
            peak = peak_memory_mb(worker.pid)
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    print(
        f"{args.job} over {args.users} users: {run.status} in {run.duration_ms / 1000:.1f}s; "
        f"{emails} outbox rows; result {run.result}; worker peak memory {peak:.0f} MB"
    )


if __name__ == "__main__":
    main()
