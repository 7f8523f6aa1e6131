"""The operations console over HTTP."""

from saas.extensions import db
from saas.jobs import heartbeat
from saas.jobs.models import JobRun
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
    with app.app_context():
        heartbeat.beat("worker", "box-1:101")
        heartbeat.beat("scheduler", "box-2:202")
        send_email(to="someone@example.com", template="password_changed")
        db.session.commit()
    page = auth.client.get("/admin/").get_data(as_text=True)
    assert "1</strong> tasks waiting" in page
    assert "box-1:101" in page and "box-2:202" in page
    assert "queued: <strong>1</strong>" in page


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
    assert "mail server on fire" in page and "Traceback (most recent call last)" in page

    response = auth.post("/admin/jobs/mark_expiring_cards/run", token_from="/admin/jobs")
    assert response.status_code == 303
    run_queued_tasks()
    page = auth.client.get("/admin/jobs").get_data(as_text=True)
    assert "enqueued; a worker will run it" in page
    row = page.split('data-job="mark_expiring_cards"')[1].split("</section>")[0]
    assert "succeeded (manual)" in row
    assert auth.post("/admin/jobs/nope/run", token_from="/admin/jobs").status_code == 404
