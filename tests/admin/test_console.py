"""The operations console over HTTP."""

from datetime import timedelta

from saas.database import now_utc
from saas.extensions import db
from saas.jobs import heartbeat
from saas.jobs.models import Heartbeat, JobRun
from saas.mail import send_email
from tests.support.accounts import make_user


def log_in_admin(app, auth) -> None:
    make_user(app, "root@example.com", role="admin")
    auth.login("root@example.com", "customer-password")


def test_the_console_is_for_admins_only(app, auth, client):
    assert client.get("/admin/").status_code == 302  # to the login page
    make_user(app, "member@example.com")
    auth.login("member@example.com", "customer-password")
    for path in ("/admin/", "/admin/jobs"):
        assert client.get(path).status_code == 403
    assert auth.post("/admin/jobs/sweep/run", token_from="/").status_code == 403


def test_the_overview_shows_queue_workers_schedulers_and_outbox(app, auth):
    log_in_admin(app, auth)
    long_ago = now_utc() - timedelta(hours=2)
    with app.app_context():
        busy = {
            "thread": "Worker-3",
            "task": "deliver",
            "args": "42",
            "since": now_utc().isoformat(),
        }
        heartbeat.beat("worker", "box-1:101", [busy])
        heartbeat.beat("worker", "box-4:404", [])
        heartbeat.beat("scheduler", "box-2:202")
        db.session.add(Heartbeat(kind="worker", name="box-3:303", last_seen_at=long_ago))
        send_email(to="someone@example.com", template="password_changed")
        db.session.add_all(
            [
                JobRun(
                    job="sweep",
                    status="succeeded",
                    finished_at=now_utc(),
                    duration_ms=40,
                    enqueued_at=now_utc(),
                    started_at=now_utc(),
                ),
            ]
        )
        db.session.commit()
    page = auth.client.get("/admin/").get_data(as_text=True)
    assert "1</strong> tasks waiting" in page
    assert "box-1:101" in page and "box-2:202" in page
    assert "<code>Worker-3</code> runs <code>deliver(42)</code> since" in page
    assert "every thread idle at that beat" in page.split("box-4:404")[1]
    gone = page.split('data-testid="workers"')[1].split("</div>")[0].split("Gone:")[1]
    assert "box-3:303" in gone and "2 h ago" in gone
    email_row = page.split('data-kind="email"')[1].split("</tr>")[0]
    assert '"status status-queued">queued</span> <strong>1</strong>' in email_row
    assert page.count("<svg") == 7 and "Job runs finished" in page
    live = auth.client.get("/admin/?part=live").get_data(as_text=True)
    assert "<html" not in live and 'data-kind="email"' in live


def test_the_jobs_page_lists_the_schedule_history_and_failures_and_runs_a_job_by_hand(
    app, auth, run_queued_tasks
):
    log_in_admin(app, auth)
    with app.app_context():
        db.session.add(
            JobRun(
                job="remind_inactive_users",
                status="failed",
                trigger="manual",
                error="RuntimeError: mail server on fire",
                traceback="Traceback (most recent call last):\n  ...",
            )
        )
        db.session.commit()
    page = auth.client.get("/admin/jobs").get_data(as_text=True)
    for name in ("mark_expiring_cards", "remind_inactive_users", "monthly_digest", "sweep"):
        assert f'data-job="{name}"' in page
    assert "<code>0 1 * * 2#2</code>" in page
    assert "<title>Schedule · SaaS</title>" in page
    assert "mail server on fire" in page and "Traceback (most recent call last)" in page

    response = auth.post(
        "/admin/jobs/mark_expiring_cards/run", {"confirm": "yes"}, token_from="/admin/jobs"
    )
    assert response.status_code == 303
    run_queued_tasks()
    page = auth.client.get("/admin/jobs").get_data(as_text=True)
    assert "enqueued; a worker will run it" in page
    row = page.split('data-job="mark_expiring_cards"')[1].split("</section>")[0]
    assert "succeeded (manual)" in row
    assert auth.post("/admin/jobs/nope/run", token_from="/admin/jobs").status_code == 404
