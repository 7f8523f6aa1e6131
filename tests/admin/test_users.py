"""The users pages and their actions over HTTP: search and pages, everything about one account,
disable/enable and admin grants (never the last admin), per-account tasks through the task form
(validated, confirmed, recorded as manual runs with the admin and the account), report cancel;
every action audited, refused ones too."""

import re

import pytest

from saas.admin.models import AuditEntry
from saas.auth.models import User
from saas.extensions import db
from saas.jobs.models import JobRun
from saas.reports.models import Report, ReportStatus
from tests.support.accounts import make_user, months_ahead
from tests.support.auth import AuthActions

PASSWORD = "customer-password"


@pytest.fixture
def admin(app, auth) -> int:
    user_id = make_user(app, "root@example.com", role="admin")
    assert auth.login("root@example.com", PASSWORD).status_code == 303
    return user_id


def post(auth, path: str, data: dict | None = None):
    return auth.post(path, data or {}, token_from="/admin/users")


def audit(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(db.select(AuditEntry).order_by(AuditEntry.id)).scalars()
        return [(e.action, e.target_type, e.target_id, e.outcome, e.message) for e in rows]


def the_user(app, user_id: int) -> User:
    with app.app_context():
        return db.session.get(User, user_id)


def test_search_pages_and_literal_wildcards(app, auth, admin):
    for number in range(53):
        make_user(app, f"acme{number:02d}@example.com")
    make_user(app, "odd_100%@example.com")
    first = auth.client.get("/admin/users?q=ACME").get_data(as_text=True)
    assert first.count('data-user="') == 50 and "acme52@example.com" in first
    more = re.search(r'href="(/admin/users\?before=\d+[^"]*)"', first)[1].replace("&amp;", "&")
    second = auth.client.get(more).get_data(as_text=True)
    assert second.count('data-user="') == 3 and "acme00@example.com" in second
    wildcard = auth.client.get("/admin/users?q=%25").get_data(as_text=True)
    assert wildcard.count('data-user="') == 1 and "odd_100%@example.com" in wildcard
    assert auth.client.get("/admin/users?before=x&q=" + "a" * 5000).status_code == 200
    assert auth.client.get("/admin/users/999999").status_code == 404


def test_the_user_page_shows_the_account_and_what_touched_it(app, auth, admin, fixed_clock):
    month, year = months_ahead(0)
    user_id = make_user(app, "ada@example.com", card=(month, year, "4242"))
    with app.app_context():
        db.session.add(Report(user_id=user_id, kind="account_export", status="succeeded"))
        db.session.commit()
    page = auth.client.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert "visa ending 4242" in page and "status-expiring" in page
    assert "account_export" in page and "Disable ada@example.com" in page
    assert "Send the inactivity reminder to ada@example.com" in page


def test_disable_ends_the_sessions_enable_restores_log_in_and_both_are_audited(app, auth, admin):
    user_id = make_user(app, "ada@example.com")
    ada = AuthActions(app.test_client())
    assert ada.login("ada@example.com", PASSWORD).status_code == 303
    assert (
        post(auth, f"/admin/users/{user_id}/disable").headers["Location"]
        == f"/admin/users/{user_id}"
    )
    assert ada.client.get("/settings").status_code == 302
    assert ada.login("ada@example.com", PASSWORD).status_code == 400  # disabled
    post(auth, f"/admin/users/{user_id}/disable")  # already disabled: said, changes nothing
    post(auth, f"/admin/users/{user_id}/enable")
    assert ada.login("ada@example.com", PASSWORD).status_code == 303
    assert [(a, o) for a, _t, _i, o, _m in audit(app)] == [
        ("user.disable", "done"),
        ("user.disable", "done"),
        ("user.enable", "done"),
    ]
    assert "already disabled; nothing changed" in audit(app)[1][4]
    page = auth.client.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert page.count("user.disable") == 2 and "user.enable" in page  # the trail on its page


def test_the_last_admin_keeps_the_role_and_stays_enabled(app, auth, admin):
    post(auth, f"/admin/users/{admin}/revoke-admin")
    post(auth, f"/admin/users/{admin}/disable")
    assert the_user(app, admin).is_admin and the_user(app, admin).active
    other = make_user(app, "ops@example.com")
    post(auth, f"/admin/users/{other}/grant-admin")
    assert the_user(app, other).is_admin
    post(auth, f"/admin/users/{other}/revoke-admin")  # another admin remains: allowed
    assert not the_user(app, other).is_admin
    assert post(auth, "/admin/users/424242/grant-admin").status_code == 404
    outcomes = [(a, o) for a, _t, _i, o, _m in audit(app)]
    assert outcomes == [
        ("user.revoke_admin", "refused"),
        ("user.disable", "refused"),
        ("user.grant_admin", "done"),
        ("user.revoke_admin", "done"),
        ("user.grant_admin", "refused"),
    ]
    assert "last active admin" in audit(app)[0][4]


def test_a_per_account_task_needs_confirmation_and_valid_arguments(
    app, auth, admin, mailbox, run_queued_tasks
):
    user_id = make_user(app, "ada@example.com")
    path = "/admin/jobs/send_inactivity_reminder/run"
    here = {"next": f"/admin/users/{user_id}"}
    post(auth, path, {"user_id": str(user_id), **here})  # no confirmation
    post(auth, path, {"user_id": "abc", "confirm": "yes"})
    post(auth, path, {"user_id": "424242", "confirm": "yes"})
    post(auth, path, {"user_id": str(user_id), "role": "admin", "confirm": "yes"})
    post(auth, path, {"user_id": "9" * 30, "confirm": "yes"})
    assert run_queued_tasks() == 0
    done = post(auth, path, {"user_id": str(user_id), "confirm": "yes", **here})
    assert done.headers["Location"] == f"/admin/users/{user_id}"
    assert run_queued_tasks() == 2  # the run, then its email
    [message] = mailbox.wait_for(1)
    assert message["To"] == "ada@example.com"
    with app.app_context():
        [run] = db.session.execute(db.select(JobRun)).scalars().all()
        assert (run.trigger, run.triggered_by, run.user_id, run.status) == (
            "manual",
            admin,
            user_id,
            "succeeded",
        )
    refusals = [m for _a, _t, _i, o, m in audit(app) if o == "refused"]
    assert len(refusals) == 5 and "out of range" in refusals[4]
    assert "Confirm" in refusals[0] and "user_id must be int" in refusals[1]
    assert "No account has the id 424242" in refusals[2] and "no argument 'role'" in refusals[3]
    page = auth.client.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert "send_inactivity_reminder" in page and "ada@example.com" in page


def test_the_expiring_card_email_and_a_card_resync_from_the_user_page(
    app, auth, admin, mailbox, run_queued_tasks, fixed_clock
):
    month, year = months_ahead(0)
    with_card = make_user(app, "ada@example.com", card=(month, year, "4242"))
    without = make_user(app, "bob@example.com")
    for user_id in (with_card, without):
        form = {"user_id": str(user_id), "confirm": "yes"}
        post(auth, "/admin/jobs/send_card_expiring_email/run", form)
    post(auth, "/admin/jobs/resync_card/run", {"user_id": str(without), "confirm": "yes"})
    run_queued_tasks()
    [message] = mailbox.wait_for(1)
    assert message["To"] == "ada@example.com" and "4242" in message.get_body().get_content()
    with app.app_context():
        runs = db.session.execute(db.select(JobRun).order_by(JobRun.id)).scalars().all()
        assert [r.status for r in runs] == ["succeeded", "failed", "failed"]
        assert "has no card on file" in runs[1].error
        assert "no Stripe customer" in runs[2].error


def test_an_admin_cancels_a_queued_report_and_not_a_finished_one(app, auth, admin):
    user_id = make_user(app, "ada@example.com")
    with app.app_context():
        queued = Report(user_id=user_id, kind="account_export")
        done = Report(user_id=user_id, kind="account_export", status=ReportStatus.SUCCEEDED)
        db.session.add_all([queued, done])
        db.session.commit()
        queued_id, done_id = queued.public_id, done.public_id
    assert "Cancel report " + queued_id[:8] in auth.client.get(f"/admin/users/{user_id}").get_data(
        True
    )
    post(auth, f"/admin/reports/{queued_id}/cancel")
    post(auth, f"/admin/reports/{done_id}/cancel")
    assert post(auth, "/admin/reports/nope/cancel").status_code == 404
    with app.app_context():
        statuses = dict(db.session.execute(db.select(Report.public_id, Report.status)).all())
    assert (statuses[queued_id], statuses[done_id]) == ("canceled", "succeeded")
    assert [o for _a, _t, _i, o, _m in audit(app)] == ["done", "refused", "refused"]


@pytest.mark.usefixtures("fixed_clock")
def test_an_accounts_page_lists_the_periodic_runs_that_emailed_it(
    app, auth, admin, run_queued_tasks
):
    soon = make_user(app, "soon@example.com", card=(*months_ahead(0), "1111"))
    later = make_user(app, "later@example.com", card=(*months_ahead(13), "3333"))
    post(auth, "/admin/jobs/mark_expiring_cards/run", {"confirm": "yes"})
    run_queued_tasks()  # the run, then the email it queued
    with app.app_context():
        run = db.session.execute(
            db.select(JobRun).where(JobRun.job == "mark_expiring_cards")
        ).scalar_one()
        run_id, status = run.id, run.status
    assert status == "succeeded"

    def runs_card(user_id: int) -> str:
        page = auth.client.get(f"/admin/users/{user_id}").get_data(as_text=True)
        return page.split('data-testid="runs"')[1].split("</section>")[0]

    assert f">{run_id}</a>" in runs_card(soon) and "mark_expiring_cards" in runs_card(soon)
    assert "mark_expiring_cards" not in runs_card(later)  # the run did not email this one
