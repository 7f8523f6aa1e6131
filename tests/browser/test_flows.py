"""What a person sees in a real browser: sign-up and log-in, the contact form, the expiring-card
banner after the midnight job, and a report's progress bar reaching 100%."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from saas.auth.models import User
from saas.extensions import db
from saas.mail.models import OutboundEmail
from tests.support.procfile import ROOT


def flask_cli(app_env, *args: str) -> str:
    env = {**os.environ, **app_env}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        ["flask", "--app", "tests.support.probe_clock", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def sign_up(page, live_server, email="ada@example.com", password="correct horse battery"):
    page.goto(f"{live_server}/signup")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")


def log_in(page, live_server, email, password):
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("main form button[type=submit]")


def test_sign_up_log_out_and_log_in(page, live_server):
    sign_up(page, live_server)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()  # signed in at once
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    log_in(page, live_server, "ada@example.com", "correct horse battery")
    page.goto(f"{live_server}/settings")
    expect(page.get_by_text("ada@example.com").first).to_be_visible()


def test_the_contact_form_answers_at_once_and_the_worker_sends_the_email(
    page, live_server, start_worker, mailbox
):
    start_worker()
    page.goto(f"{live_server}/contact")
    page.fill("input[name=name]", "Grace Hopper")
    page.fill("input[name=email]", "grace@example.com")
    page.fill("textarea[name=message]", "Do you support cron syntax like 0 1 * * 2#2?")
    page.click("main form button[type=submit]")
    expect(page.get_by_text("Thanks, we'll get back to you soon")).to_be_visible()
    assert sorted(m["To"] for m in mailbox.wait_for(2)) == [
        "grace@example.com",
        "support@saas.test",
    ]


def test_a_customer_whose_card_expires_sees_the_banner_after_the_midnight_job(
    fixed_clock, page, live_server, app_env
):
    """On the 1st of a 31-day month (the fixture's day): the seeded card expires this month."""
    flask_cli(app_env, "seed")
    assert "succeeded" in flask_cli(app_env, "jobs", "run", "mark_expiring_cards", "--inline")
    log_in(page, live_server, "expiring@example.com", "customer-password")
    banner = page.get_by_test_id("card-expiry-banner")
    expect(banner).to_contain_text("Your card ending 4242 expires 12/2026.")
    expect(banner.get_by_role("link", name="Update it")).to_have_attribute("href", "/billing")


def watch_a_report_to_100(page, live_server, app, start_worker) -> None:
    """Ada, with enough history to watch the bar move, requests her export; the bar must
    visibly advance, never go back, and reach 100 with the download offered."""
    sign_up(page, live_server)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    with app.app_context():  # an account with enough history to watch the bar move
        ada = db.session.execute(db.select(User).filter_by(email="ada@example.com")).scalar_one()
        db.session.add_all(
            OutboundEmail(
                to_address=ada.email,
                user_id=ada.id,
                template="password_changed",
                context={},
                status="sent",
            )
            for _ in range(400)
        )
        db.session.commit()
    start_worker(PROBE_REPORT_ROW_DELAY="0.01", REPORT_PROGRESS_INTERVAL="0.2", JOB_BATCH_SIZE="50")
    page.goto(f"{live_server}/reports")
    page.click("main form button[type=submit]")
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        seen.append(int(page.text_content("#report-percent")))
        if seen[-1] == 100:
            break
        time.sleep(0.2)
    assert seen[-1] == 100
    assert len({value for value in seen if 0 < value < 100}) >= 2, seen  # it visibly advanced
    assert seen == sorted(seen)
    expect(page.get_by_test_id("report-download")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_test_id("report-download").click()
    assert download.value.suggested_filename.endswith(".csv")


def test_a_report_progress_bar_advances_to_100_and_offers_the_download(
    page, live_server, app, start_worker
):
    watch_a_report_to_100(page, live_server, app, start_worker)


@pytest.fixture
def no_stream_slots(monkeypatch, app_env):
    """Every progress stream refused (the per-user cap at 0), for the web process started next."""
    monkeypatch.setenv("REPORT_STREAMS_PER_USER", "0")


def test_past_the_stream_cap_the_progress_bar_polls_to_100(
    no_stream_slots, page, live_server, app, start_worker
):
    requests = []
    page.on("response", lambda r: requests.append((r.url.rsplit("/", 1)[-1], r.status)))
    watch_a_report_to_100(page, live_server, app, start_worker)
    streams = [status for name, status in requests if name == "events"]
    polls = [status for name, status in requests if name == "progress"]
    assert streams == [429]  # refused once, never hammered
    assert len(polls) >= 2 and set(polls) == {200}
