"""Reports through the durable-work lifecycle, with the real consumer: a failure from the
moment of the claim is recorded; a running report is canceled at its next progress write; a
report whose worker is killed is built again, once, after the sweep."""

import re
import signal
from datetime import timedelta
from pathlib import Path

from saas.auth.models import User
from saas.contact.models import ContactMessage
from saas.database import now_utc
from saas.extensions import db
from saas.jobs import lifecycle
from saas.mail.models import OutboundEmail
from tests.reports.test_reports import request_report, the_report
from tests.support.waiting import wait_until

READY_SUBJECT = "Your SaaS report is ready"


def with_contact_history(app, count: int) -> None:
    """Give the customer's export `count` rows: messages they sent logged in (one slow row each
    below). The export selects rows by user id only."""
    with app.app_context():
        user_id, email = db.session.execute(db.select(User.id, User.email)).one()
        db.session.execute(
            db.insert(ContactMessage),
            [
                {
                    "name": "Ada",
                    "email": email,
                    "message": "An old question",
                    "user_id": user_id,
                    "created_at": now_utc(),
                }
                for _ in range(count)
            ],
        )
        db.session.commit()


def progress(auth, public_id: str) -> dict:
    return auth.client.get(f"/reports/{public_id}/progress").get_json()


def ready_emails(mailbox) -> list:
    return [m for m in mailbox.messages if m["Subject"] == READY_SUBJECT]


def test_a_report_whose_folder_cannot_be_created_fails_with_the_reason(
    app, app_env, auth, start_worker
):
    # A file where the reports folder should be: mkdir fails on the worker.
    (Path(app_env["INSTANCE_PATH"]) / "reports").write_text("not a folder")
    auth.signup()
    auth.login()
    start_worker()
    public_id = request_report(auth)
    wait_until(lambda: progress(auth, public_id)["status"] == "failed")
    report = the_report(app, public_id)
    assert "cannot be created" in report.error and "reports" in report.error
    assert report.attempts == 1  # a folder that cannot be made is not retried
    interval = timedelta(seconds=app.config["REPORT_PROGRESS_INTERVAL"])
    assert report.finished_at - report.started_at <= interval  # failed within one interval
    page = auth.client.get(f"/reports/{public_id}").get_data(as_text=True)
    assert "The report could not be built: the reports folder" in page
    assert re.search(r'id="report-retry"\s*>', page)  # "Try again" is offered
    assert re.search(r'id="report-cancel"\s*hidden', page)


def test_cancel_on_a_running_report_takes_effect_at_its_next_progress_write(
    app, auth, start_worker
):
    auth.signup()
    auth.login()
    with_contact_history(app, 200)
    start_worker(PROBE_REPORT_ROW_DELAY="0.05")
    public_id = request_report(auth)
    wait_until(lambda: progress(auth, public_id)["processed"] > 5)
    response = auth.post(f"/reports/{public_id}/cancel", token_from=f"/reports/{public_id}")
    assert response.status_code == 303
    page = auth.client.get(f"/reports/{public_id}").get_data(as_text=True)
    assert "Cancel requested: the report stops at its next progress update." in page
    assert progress(auth, public_id)["cancel_requested"] is True
    wait_until(lambda: progress(auth, public_id)["status"] == "canceled", timeout=5)
    report = the_report(app, public_id)
    assert report.processed < 200 and report.file_name is None


def test_a_report_whose_worker_is_killed_is_built_once_after_the_sweep(
    app, auth, mailbox, start_worker
):
    auth.signup()
    auth.login()
    with_contact_history(app, 200)
    worker = start_worker(PROBE_REPORT_ROW_DELAY="0.05", REPORT_LEASE="2")
    public_id = request_report(auth)
    wait_until(lambda: progress(auth, public_id)["processed"] > 10)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    assert progress(auth, public_id)["status"] == "running"

    start_worker(REPORT_LEASE="2")

    def swept() -> bool:
        with app.app_context():
            return lifecycle.sweep_all()["report"]["reclaimed"] == 1

    wait_until(swept, timeout=15)
    wait_until(lambda: progress(auth, public_id)["status"] == "succeeded")
    report = the_report(app, public_id)
    assert report.attempts == 2
    download = auth.client.get(f"/reports/{public_id}/download").get_data(as_text=True)
    assert download.count("An old question") == 200
    wait_until(lambda: len(ready_emails(mailbox)) >= 1)
    with app.app_context():
        ready_rows = db.session.execute(
            db.select(db.func.count()).where(OutboundEmail.template == "report_ready")
        ).scalar_one()
    assert ready_rows == 1
