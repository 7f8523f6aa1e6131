"""Reports over HTTP, built by the task in process (the browser suite runs the real worker)."""

import csv
import io
from datetime import timedelta

import pytest

from saas.database import now_utc
from saas.extensions import db, huey
from saas.reports import builders
from saas.reports.models import Report
from tests.support.accounts import make_user


def request_report(auth, kind="account_export") -> str:
    response = auth.post("/reports", {"kind": kind}, token_from="/reports")
    assert response.status_code == 303
    return response.headers["Location"].rsplit("/", 1)[1]


def the_report(app, public_id: str) -> Report:
    with app.app_context():
        return db.session.execute(
            db.select(Report).where(Report.public_id == public_id)
        ).scalar_one()


def test_a_customer_exports_their_data_and_is_emailed_when_it_is_ready(
    app, auth, run_queued_tasks, mailbox
):
    auth.signup()
    auth.login()
    auth.post(
        "/contact",
        {"name": "Ada", "email": "customer@example.com", "message": "Hi"},
        token_from="/contact",
    )
    public_id = request_report(auth)
    assert len(public_id) >= 20  # not guessable
    page = auth.client.get(f"/reports/{public_id}").get_data(as_text=True)
    assert "queued" in page and 'role="progressbar"' in page
    run_queued_tasks()

    progress = auth.client.get(f"/reports/{public_id}/progress").get_json()
    assert (progress["status"], progress["percent"], progress["download"]) == (
        "succeeded",
        100,
        True,
    )
    assert progress["processed"] == progress["total"] > 2
    download = auth.client.get(f"/reports/{public_id}/download")
    assert download.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    sections = {row["section"] for row in rows}
    assert {"Profile", "Sign-ins", "Emails sent", "Contact messages"} <= sections
    assert any(row["summary"] == "Hi" for row in rows)
    ready = [m for m in mailbox.wait_for(3) if m["Subject"] == "Your SaaS report is ready"]
    assert ready and f"/reports/{public_id}" in ready[0].get_body(("plain",)).get_content()


def test_only_the_owner_sees_a_report_its_progress_or_its_file(app, auth, client, run_queued_tasks):
    auth.signup()
    auth.login()
    public_id = request_report(auth)
    run_queued_tasks()
    auth.logout()
    for path in ("", "/progress", "/events", "/download"):
        assert client.get(f"/reports/{public_id}{path}").status_code == 302  # to the login page
    auth.signup("other@example.com")
    auth.login("other@example.com")
    for path in ("", "/progress", "/events", "/download"):
        assert client.get(f"/reports/{public_id}{path}").status_code == 404
    assert client.get("/reports/not-a-real-id").status_code == 404
    assert auth.post(f"/reports/{public_id}/cancel", token_from="/reports").status_code == 404


def test_product_wide_reports_are_for_admins(app, auth, runner, run_queued_tasks):
    auth.signup()
    auth.login()
    refused = auth.post("/reports", {"kind": "product_summary"}, token_from="/reports")
    assert refused.status_code == 400
    auth.logout()
    make_user(app, "root@example.com", role="admin")
    auth.login("root@example.com", "customer-password")
    public_id = request_report(auth, "product_summary")
    run_queued_tasks()
    report = the_report(app, public_id)
    assert report.status == "succeeded"
    month = now_utc().strftime("%Y-%m")
    assert [month, 2] in report.summary["Signups by month"]
    page = auth.client.get(f"/reports/{public_id}").get_data(as_text=True)
    assert "<svg" in page and "Signups by month" in page and "Revenue by month" in page


@pytest.mark.app_config(REPORT_RETRIES=0)
def test_cancel_and_retry(app, auth, run_queued_tasks, monkeypatch):
    auth.signup()
    auth.login()
    queued = request_report(auth)
    auth.post(f"/reports/{queued}/cancel", token_from="/reports")
    run_queued_tasks()
    assert the_report(app, queued).status == "canceled"

    running = request_report(auth)
    with app.app_context():  # the requester cancels while the task runs
        db.session.execute(
            db.update(Report).where(Report.public_id == running).values(cancel_requested=True)
        )
        db.session.commit()
    run_queued_tasks()
    assert the_report(app, running).status == "canceled"

    def broken(user_id, progress, write):
        progress.start(total=10)
        raise RuntimeError("the archive server is down")

    monkeypatch.setitem(builders.BUILDERS, "account_export", broken)
    failing = request_report(auth)
    run_queued_tasks()
    report = the_report(app, failing)
    assert report.status == "failed"
    assert report.error == "The report could not be built: the archive server is down"
    assert "the archive server is down" in auth.client.get(f"/reports/{failing}").get_data(
        as_text=True
    )
    monkeypatch.undo()
    auth.post(f"/reports/{failing}/retry", token_from="/reports")
    run_queued_tasks()
    # A retry by hand starts the report's attempts afresh.
    assert (the_report(app, failing).status, the_report(app, failing).attempts) == ("succeeded", 1)


@pytest.mark.app_config(REPORT_STREAM_SECONDS=2)
def test_progress_streams_as_server_sent_events(app, auth, run_queued_tasks):
    auth.signup()
    auth.login()
    public_id = request_report(auth)
    run_queued_tasks()
    body = auth.client.get(f"/reports/{public_id}/events").get_data(as_text=True)
    assert body.startswith("retry: 1000")
    assert '"status": "succeeded"' in body and '"percent": 100' in body
    assert "event: done" in body


def test_finished_files_are_pruned_after_their_retention(app, auth, runner, run_queued_tasks):
    auth.signup()
    auth.login()
    public_id = request_report(auth)
    run_queued_tasks()
    with app.app_context():
        db.session.execute(db.update(Report).values(expires_at=now_utc() - timedelta(minutes=1)))
        db.session.commit()
        file = app.config["REPORT_DIR"] + f"/{public_id}.csv"
    result = runner.invoke(args=["jobs", "run", "prune_reports", "--inline"])
    assert "'pruned': 1" in result.output
    assert the_report(app, public_id).status == "expired"
    assert auth.client.get(f"/reports/{public_id}/download").status_code == 404
    import os  # noqa: PLC0415

    assert not os.path.exists(file)


def test_a_report_lost_by_the_queue_or_its_worker_is_recovered(app, auth, runner, run_queued_tasks):
    auth.signup()
    auth.login()
    lost = request_report(auth)
    huey.flush()  # what FLUSHALL does to this queue
    dead = request_report(auth)
    run_queued_tasks()
    long_ago = now_utc() - timedelta(hours=2)
    with app.app_context():
        db.session.execute(
            db.update(Report).where(Report.public_id == lost).values(enqueued_at=long_ago)
        )
        db.session.execute(  # its worker died mid-build
            db.update(Report)
            .where(Report.public_id == dead)
            .values(status="running", lease_expires_at=long_ago, processed=7)
        )
        db.session.commit()
    result = runner.invoke(args=["jobs", "run", "sweep", "--inline"])
    assert "'report': {'requeued': 1, 'reclaimed': 1, 'failed': 0}" in result.output
    run_queued_tasks()
    assert the_report(app, lost).status == "succeeded"
    assert (the_report(app, dead).status, the_report(app, dead).attempts) == ("succeeded", 2)
