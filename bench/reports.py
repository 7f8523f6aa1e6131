"""Reports at scale, on PostgreSQL (DATABASE_URL) and Redis (REDIS_URL): the product-wide summary
over N users, and one customer's export of an account with M rows (emails sent). Starts the
Procfile's worker with one thread and prints each report's time and the worker's peak memory.

    .venv/bin/python -m bench.reports --users 1000000 --export-rows 200000
"""

import argparse
import time

from sqlalchemy import text

from bench.common import Backend, start_process
from bench.scheduled_jobs import FILL_USERS, peak_memory_mb
from saas.extensions import db
from saas.jobs.enqueue import IdOf, enqueue_after_commit
from saas.reports.models import FINISHED, Report
from saas.reports.tasks import build_report
from tests.support.services import SERVER_DATABASE_URL

FILL_EMAILS = """
INSERT INTO outbound_emails (to_address, user_id, template, context, status, attempts,
                             next_attempt_at, created_at, updated_at, sent_at)
SELECT 'user1@example.com', 1, 'password_changed', '{}', 'sent', 1, now(), now(), now(), now()
FROM generate_series(1, :rows)
"""


def run_report(app, kind: str, user_id: int) -> Report:
    with app.app_context():
        report = Report(user_id=user_id, kind=kind)
        db.session.add(report)
        enqueue_after_commit(build_report, IdOf(report))
        db.session.commit()
        report_id = report.id
        while True:
            report = db.session.get(Report, report_id, populate_existing=True)
            db.session.rollback()
            if report.status in FINISHED:
                db.session.expunge(report)
                return report
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--export-rows", type=int, default=200_000)
    args = parser.parse_args()
    if not SERVER_DATABASE_URL:
        raise SystemExit("set DATABASE_URL (PostgreSQL) and REDIS_URL")
    with Backend("reports", WORKER_CONCURRENCY="1") as backend:
        with backend.app.app_context():
            db.session.execute(text(FILL_USERS), {"users": args.users})
            db.session.execute(text("UPDATE users SET role = 'admin' WHERE id = 1"))
            db.session.execute(text(FILL_EMAILS), {"rows": args.export_rows})
            db.session.commit()
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        worker, ready = start_process("worker", ready_marker="consumer started")
        try:
            if not ready.wait(60):
                raise SystemExit("the worker did not start")
            results = []
            for kind in ("product_summary", "account_export"):
                report = run_report(backend.app, kind, user_id=1)
                seconds = (report.finished_at - report.started_at).total_seconds()
                results.append((kind, report, seconds, peak_memory_mb(worker.pid)))
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    for kind, report, seconds, peak in results:
        print(
            f"{kind}: {report.status} in {seconds:.1f}s, {report.processed} rows, "
            f"file {report.file_size or 0} bytes; worker peak memory so far {peak:.0f} MB"
        )
    print(f"({args.users} users; the export's account has {args.export_rows} emails)")


if __name__ == "__main__":
    main()
