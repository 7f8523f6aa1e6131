"""The operations console in Chromium at 1280 and 390 px, against the Procfile's web command and
the real worker: a failed email retried turns sent without a reload, a job paused, a missed slot
run, the audit entries found; every step's screenshot saved, no page wider than a phone."""

import time

from playwright.sync_api import expect

from saas.extensions import db
from saas.jobs.runner import create_manual_run
from saas.mail import send_email
from saas.mail.models import EmailStatus
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_flows import log_in
from tests.support.accounts import make_user

JOB = "mark_expiring_cards"
WIDTHS = (1280, 390)


def shoot(page, name: str) -> None:
    """Screenshots of the page as it is at both widths; at 390 px it must not scroll sideways."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{name} is {scroll_width} px wide at {width}"
        page.screenshot(path=str(ARTIFACTS / f"console-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def failed_email(app) -> int:
    with app.app_context():
        email = send_email(to="ada@example.com", template="password_changed")
        db.session.flush()
        email.status, email.attempts = EmailStatus.FAILED, 5
        email.last_error = "SMTPServerDisconnected: gave up after 5 attempts"
        db.session.commit()
        return email.id


def test_an_operator_fixes_things_from_the_console(app, page, live_server, start_worker, mailbox):
    make_user(app, "root@example.com", role="admin")
    email_id = failed_email(app)
    start_worker()
    log_in(page, live_server, "root@example.com", "customer-password")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    # A failed email, retried: the page turns it "sent" by itself (no reload).
    page.goto(f"{live_server}/admin/emails/{email_id}")
    expect(page.locator("h1 .status")).to_have_text("failed")
    shoot(page, "email-failed")
    page.get_by_role("button", name=f"Retry email {email_id}").click()
    expect(page.get_by_text("queued", exact=False).first).to_be_visible()
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    expect(page.locator("h1 .status")).to_have_text("sent", timeout=30_000)
    assert navigations == []  # refreshed in place
    assert mailbox.wait_for(1)[0]["To"] == "ada@example.com"
    shoot(page, "email-sent")

    # Pause a job; then run one of its missed slots.
    page.goto(f"{live_server}/admin/jobs")
    page.get_by_role("button", name=f"Pause {JOB}").click()
    section = page.locator(f'[data-job="{JOB}"]')
    expect(section.locator(".status-paused")).to_be_visible()
    expect(section.get_by_role("button", name=f"Resume {JOB}")).to_be_visible()
    slot = section.locator('[data-state="missed"]').last.get_attribute("data-slot")
    label = f"Run {JOB} slot {slot[:10]} {slot[11:16]}"
    section.get_by_role("button", name=label).click()
    expect(page.get_by_text("claimed as run #")).to_be_visible()
    shoot(page, "schedule")
    cell = page.locator(f'[data-job="{JOB}"] [data-slot="{slot}"]')
    deadline = time.monotonic() + 30
    while cell.get_attribute("data-state") != "succeeded" and time.monotonic() < deadline:
        time.sleep(0.5)
        page.reload()  # the worker runs the slot; the schedule shows it
    assert cell.get_attribute("data-state") == "succeeded"

    # The audit log has all three actions, by this admin; the refused filter finds none.
    page.goto(f"{live_server}/admin/audit")
    rows = page.locator('[data-testid="audit"] tbody tr')
    expect(rows).to_have_count(3)
    for action in ("email.retry", "job.pause", "job.run_slot"):
        expect(page.locator('[data-testid="audit"]').get_by_text(action)).to_be_visible()
    page.select_option("select[name=outcome]", "refused")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No entries match.")).to_be_visible()
    shoot(page, "audit")


SET_VISIBILITY = """state => {
    Object.defineProperty(document, "visibilityState", {configurable: true, get: () => state});
    document.dispatchEvent(new Event("visibilitychange"));
}"""


def wait_for(page, condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        page.wait_for_timeout(200)  # Playwright delivers request events only inside its calls
    return condition()


def test_the_runs_list_refreshes_in_place_and_rests_while_the_tab_is_hidden(app, page, live_server):
    make_user(app, "root@example.com", role="admin")
    log_in(page, live_server, "root@example.com", "customer-password")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.goto(f"{live_server}/admin/runs")
    polls = []
    page.on("request", lambda request: polls.append(request.headers.get("hx-request")))
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    # A run queued by someone else shows up without a reload.
    with app.app_context():
        run = create_manual_run(JOB, None, {})
        db.session.commit()
        run_id = run.id
    expect(page.locator(f'[data-testid="runs"] tr[data-run="{run_id}"]')).to_be_visible(
        timeout=15_000
    )
    assert navigations == [] and polls and set(polls) == {"true"}

    # Hidden: two poll intervals pass with no request. Shown again: it refreshes at once.
    page.evaluate(SET_VISIBILITY, "hidden")
    page.wait_for_timeout(500)
    asked_while_hidden = len(polls)
    page.wait_for_timeout(11_000)
    assert len(polls) == asked_while_hidden
    page.evaluate(SET_VISIBILITY, "visible")
    assert wait_for(page, lambda: len(polls) > asked_while_hidden, 3)
