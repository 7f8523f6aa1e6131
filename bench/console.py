"""The console on a big product: every page and filter, 20 requests each, with 1,000,000 job
runs, 200,000 emails and 100,000 users in PostgreSQL; prints p50/p95 per page, and the
sequential scans on the big tables in the plans of each page's queries (EXPLAIN).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/0 \\
      .venv/bin/python -m bench.console

Requests go through the Flask test client in this process (the app's own time, no network), as
the admin, after ANALYZE."""

import argparse
import re
import statistics
import time

from sqlalchemy import event, text
from werkzeug.security import generate_password_hash

from bench.common import Backend
from bench.scheduled_jobs import FILL_USERS
from saas.extensions import db
from tests.support.auth import AuthActions
from tests.support.services import SERVER_DATABASE_URL

BIG_TABLES = ("job_runs", "outbound_emails", "users")  # the million, 200k, 100k
FILL = [
    FILL_USERS,
    "UPDATE users SET role = 'admin', password_hash = :hash WHERE id = 1",
    # Runs over 90 days (the retention): 2% failed in five kinds of error, 1% per-user tasks.
    """INSERT INTO job_runs (job, slot_at, trigger, status, attempt, enqueued_at, started_at,
           finished_at, duration_ms, worker, error, user_id, arguments, created_at, updated_at)
       SELECT (ARRAY['mark_expiring_cards', 'remind_inactive_users', 'sweep', 'prune_job_runs',
                     'monthly_digest'])[1 + n % 5],
              CASE WHEN n % 100 = 7 THEN NULL
                   ELSE now() - (n || ' seconds')::interval * 7.7 END,
              CASE WHEN n % 100 = 7 THEN 'manual' ELSE 'scheduled' END,
              CASE WHEN n % 50 = 0 THEN 'failed' WHEN n % 997 = 0 THEN 'skipped'
                   ELSE 'succeeded' END,
              1, now() - (n || ' seconds')::interval * 7.7,
              now() - (n || ' seconds')::interval * 7.7 + interval '1 second',
              now() - (n || ' seconds')::interval * 7.7 + interval '2 seconds', 40 + n % 900,
              'box-1:100:Thread-' || n % 8,
              CASE WHEN n % 50 = 0 THEN (ARRAY['RuntimeError: mail server on fire',
                   'TimeoutError: Stripe took too long', 'KeyError: ''card''',
                   'OperationalError: server closed the connection',
                   'ValueError: bad cron'])[1 + n / 50 % 5] END,
              CASE WHEN n % 100 = 7 THEN 1 + n % :users END,
              CASE WHEN n % 100 = 7 THEN json_build_object('user_id', 1 + n % :users) END,
              now() - (n || ' seconds')::interval * 7.7, now() - (n || ' seconds')::interval * 7.7
       FROM generate_series(1, :runs) AS n""",
    """INSERT INTO outbound_emails (to_address, user_id, template, context, status, attempts,
           next_attempt_at, enqueued_at, created_at, updated_at, sent_at, last_error)
       SELECT 'user' || (1 + n % :users) || '@example.com', 1 + n % :users,
              (ARRAY['password_reset', 'monthly_digest', 'card_expiring',
                     'verify_email'])[1 + n % 4],
              '{}', CASE WHEN n % 100 = 0 THEN 'failed' ELSE 'sent' END, 1,
              now() - (n || ' seconds')::interval * 30, now() - (n || ' seconds')::interval * 30,
              now() - (n || ' seconds')::interval * 30, now() - (n || ' seconds')::interval * 30,
              CASE WHEN n % 100 = 0 THEN NULL ELSE now() - (n || ' seconds')::interval * 30 END,
              CASE WHEN n % 100 = 0 THEN 'SMTPRecipientsRefused: 550 no such user' END
       FROM generate_series(1, :emails) AS n""",
    """INSERT INTO contact_messages (name, email, message, user_id, ip_address, created_at)
       SELECT 'Visitor ' || n, 'visitor' || n || '@example.com', 'Hello', NULL, '127.0.0.1',
              now() - (n || ' minutes')::interval
       FROM generate_series(1, :contacts) AS n""",
    """INSERT INTO stripe_events (stripe_event_id, type, object_id, stripe_created_at, payload,
           status, attempts, received_at, processed_at, error)
       SELECT 'evt_' || n, 'invoice.paid', 'in_' || n, now(), '{}',
              CASE WHEN n % 100 = 0 THEN 'failed' ELSE 'processed' END, 1,
              now() - (n || ' minutes')::interval, now(),
              CASE WHEN n % 100 = 0 THEN 'StripeError: 500' END
       FROM generate_series(1, :events) AS n""",
    """INSERT INTO audit_log (created_at, actor_id, actor_email, ip_address, action, target_type,
           target_id, arguments, outcome, message)
       SELECT now() - (n || ' minutes')::interval, 1, 'user1@example.com', '127.0.0.1',
              'run.retry', 'run', (n * 50)::text, '{}',
              CASE WHEN n % 10 = 0 THEN 'refused' ELSE 'done' END, 'x'
       FROM generate_series(1, :audits) AS n""",
]
PAGES = [
    "/admin/",
    "/admin/jobs",
    "/admin/runs",
    "/admin/runs?status=failed",
    "/admin/runs?job=sweep",
    "/admin/runs?trigger=manual",
    "/admin/runs?status=failed&job=monthly_digest&since=2026-01-01",
    "/admin/runs?before=500000",
    "/admin/runs/{run_id}",
    "/admin/emails",
    "/admin/emails?status=failed",
    "/admin/emails?template=card_expiring",
    "/admin/emails?to=user77@example.com",
    "/admin/emails/{email_id}",
    "/admin/contact",
    "/admin/stripe-events",
    "/admin/stripe-events?status=failed",
    "/admin/users",
    "/admin/users?q=user4242",
    "/admin/users/{user_id}",
    "/admin/audit",
    "/admin/audit?outcome=refused",
]


def fill(app, sizes: dict) -> None:
    with app.app_context():
        for statement in FILL:
            db.session.execute(text(statement), sizes)
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))


class Statements:
    """The SQL (and parameters) a request sent, with how long each took, to EXPLAIN afterwards
    and to name the slowest."""

    def __init__(self, engine):
        self.seen: list[tuple[str, object]] = []
        self.took: list[tuple[float, str]] = []
        self._started = 0.0
        event.listen(engine, "before_cursor_execute", self.before)
        event.listen(engine, "after_cursor_execute", self.after)

    def before(self, *cursor_execute) -> None:
        self._started = time.perf_counter()

    def after(self, *cursor_execute) -> None:
        _conn, _cursor, statement, parameters = cursor_execute[:4]
        self.took.append(((time.perf_counter() - self._started) * 1000, statement))
        if statement.lstrip().upper().startswith("SELECT"):
            self.seen.append((statement, parameters))

    def remove(self, engine) -> None:
        event.remove(engine, "before_cursor_execute", self.before)
        event.remove(engine, "after_cursor_execute", self.after)


def sequential_scans(app, statements) -> set[str]:
    scans = set()
    with app.app_context(), db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        for statement, parameters in statements:
            with raw.cursor() as cursor:
                cursor.execute("EXPLAIN " + statement, parameters)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            scans |= {t for t in re.findall(r"Seq Scan on (\w+)", plan) if t in BIG_TABLES}
    return scans


def measure(app, client, path: str, requests: int) -> tuple[list[float], set[str]]:
    with app.app_context():
        statements = Statements(db.engine)
    times = []
    for number in range(requests):
        if number == requests - 1:
            statements.seen.clear()
            statements.took.clear()
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    with app.app_context():
        statements.remove(db.engine)
    return times, sequential_scans(app, statements.seen), sorted(statements.took, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--emails", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--verbose", action="store_true", help="each page's two slowest queries")
    parser.add_argument("--pages", default="", help="only pages whose path contains this")
    args = parser.parse_args()
    if not SERVER_DATABASE_URL:
        raise SystemExit("set DATABASE_URL (PostgreSQL) and REDIS_URL")
    with Backend("console", RATELIMIT_ENABLED="false") as backend:
        app = backend.app
        password_hash = generate_password_hash("bench-admin-password")
        sizes = {
            "runs": args.runs,
            "emails": args.emails,
            "users": args.users,
            "contacts": 20_000,
            "events": 10_000,
            "audits": 20_000,
            "hash": password_hash,
        }
        started = time.monotonic()
        fill(app, sizes)
        print(f"filled in {time.monotonic() - started:.0f} s: {sizes | {'hash': '...'}}")
        client = app.test_client()
        admin = AuthActions(client)
        assert admin.login("user1@example.com", "bench-admin-password").status_code == 303
        ids = {"run_id": args.runs // 2, "email_id": args.emails // 2, "user_id": 4242}
        print(f"{'page':<64} {'p50 ms':>8} {'p95 ms':>8}  seq scans on big tables")
        for template in PAGES:
            if args.pages not in template:
                continue
            path = template.format(**ids)
            times, scans, slowest = measure(app, client, path, args.requests)
            p95 = statistics.quantiles(times, n=20)[-1]
            scanned = ", ".join(sorted(scans)) or "-"
            print(f"{path:<64} {statistics.median(times):8.1f} {p95:8.1f}  {scanned}")
            for took, statement in slowest[:2] if args.verbose else []:
                print(f"    {took:7.1f} ms  {' '.join(statement.split())[:150]}")


if __name__ == "__main__":
    main()
