"""Each scheduled job's effect in the database and in the email that arrives."""

from datetime import UTC, datetime, timedelta

import pytest

from saas.auth.models import User
from saas.billing.cards import save_card
from saas.billing.models import Card
from saas.extensions import db
from saas.jobs import scheduler
from saas.jobs.models import JobRun
from saas.jobs.registry import get_job
from saas.mail.models import OutboundEmail
from tests.support.accounts import days_ago, make_user, months_ahead
from tests.support.smtp import text_body


def run_job(runner, run_queued_tasks, name: str) -> dict:
    result = runner.invoke(args=["jobs", "run", name])
    assert result.exit_code == 0, result.output
    run_queued_tasks()
    return latest_run(runner.app, name).result


def latest_run(app, name: str) -> JobRun:
    with app.app_context():
        return db.session.execute(
            db.select(JobRun).where(JobRun.job == name).order_by(JobRun.id.desc()).limit(1)
        ).scalar_one()


def card_flags(app) -> dict[str, bool]:
    with app.app_context():
        rows = db.session.execute(db.select(User.email, Card.expiring_soon).join(Card.user)).all()
        return {email.split("@")[0]: flag for email, flag in rows}


def outbox_count(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(OutboundEmail.id)))


def test_mark_expiring_cards_flags_clears_and_emails_once_per_expiry(
    app, runner, run_queued_tasks, mailbox, fixed_clock
):
    this_month, next_year = months_ahead(0), months_ahead(13)
    make_user(app, "soon@example.com", card=(*this_month, "1111"))
    make_user(app, "expired@example.com", card=(3, this_month[1] - 1, "2222"))
    make_user(app, "later@example.com", card=(*next_year, "3333"))
    renewed = make_user(app, "renewed@example.com", card=(*next_year, "4444"))
    make_user(app, "disabled@example.com", card=(*this_month, "5555"), active=False)
    with app.app_context():  # flagged last month, renewed since without the flag recomputed
        db.session.execute(
            db.update(Card).where(Card.user_id == renewed).values(expiring_soon=True)
        )
        db.session.commit()

    result = run_job(runner, run_queued_tasks, "mark_expiring_cards")

    assert card_flags(app) == {
        "soon": True,
        "expired": True,
        "later": False,
        "renewed": False,
        "disabled": True,
    }
    assert result["emails"] == 2
    messages = {m["To"]: m for m in mailbox.wait_for(2)}
    assert sorted(messages) == ["expired@example.com", "soon@example.com"]
    expires = f"{this_month[0]:02d}/{this_month[1]}"
    assert messages["soon@example.com"]["Subject"] == f"Your card ending 1111 expires {expires}"
    assert "http://localhost/billing" in text_body(messages["soon@example.com"])

    assert run_job(runner, run_queued_tasks, "mark_expiring_cards")["emails"] == 0
    with app.app_context():  # a new, also expired, card: a new expiry date, one new email
        user = db.session.execute(
            db.select(User).where(User.email == "expired@example.com")
        ).scalar_one()
        save_card(user, brand="visa", last4="6666", exp_month=1, exp_year=this_month[1] - 2)
        db.session.commit()
    assert run_job(runner, run_queued_tasks, "mark_expiring_cards")["emails"] == 1
    assert mailbox.wait_for(3)[-1]["Subject"].startswith("Your card ending 6666 expires 01/")


def test_remind_inactive_users_once_per_inactivity_period(
    app, runner, run_queued_tasks, mailbox, fixed_clock
):
    away = make_user(app, "away@example.com", seen_days_ago=200)
    make_user(app, "recent@example.com", seen_days_ago=10)
    make_user(
        app,
        "never@example.com",
        seen_days_ago=None,
        created_at=days_ago(300),
    )

    assert run_job(runner, run_queued_tasks, "remind_inactive_users")["reminded"] == 2
    assert sorted(m["To"] for m in mailbox.wait_for(2)) == ["away@example.com", "never@example.com"]
    assert mailbox.messages[0]["Subject"] == "We miss you at SaaS"
    assert run_job(runner, run_queued_tasks, "remind_inactive_users")["reminded"] == 0

    with app.app_context():  # came back after the reminder, then went quiet again
        user = db.session.get(User, away)
        user.inactivity_reminded_at = days_ago(400)
        user.last_seen_at = days_ago(190)
        db.session.commit()
    assert run_job(runner, run_queued_tasks, "remind_inactive_users")["reminded"] == 1
    assert mailbox.wait_for(3)[-1]["To"] == "away@example.com"


@pytest.mark.app_config(INACTIVE_DELETE_AFTER_DAYS=30, INACTIVE_DELETE_WARNING_DAYS=14)
def test_deletion_of_inactive_users_is_always_preceded_by_a_warning(
    app, runner, run_queued_tasks, mailbox, fixed_clock
):
    make_user(app, "warn@example.com", seen_days_ago=400, inactivity_reminded_at=days_ago(20))
    make_user(app, "fresh@example.com", seen_days_ago=400, inactivity_reminded_at=days_ago(5))
    make_user(
        app,
        "doomed@example.com",
        seen_days_ago=400,
        inactivity_reminded_at=days_ago(40),
        deletion_warned_at=days_ago(15),
    )
    make_user(
        app,
        "saved@example.com",
        seen_days_ago=300,
        inactivity_reminded_at=days_ago(40),
        deletion_warned_at=days_ago(350),  # warned in an earlier period, then came back
    )

    result = run_job(runner, run_queued_tasks, "remind_inactive_users")

    assert result == {"reminded": 0, "warned": 2, "deleted": 1}
    with app.app_context():
        emails = set(db.session.scalars(db.select(User.email)))
    assert emails == {"warn@example.com", "fresh@example.com", "saved@example.com"}
    subjects = {m["To"]: m["Subject"] for m in mailbox.wait_for(2)}
    assert sorted(subjects) == ["saved@example.com", "warn@example.com"]
    assert all(s.startswith("Your SaaS account will be deleted on ") for s in subjects.values())
    assert run_job(runner, run_queued_tasks, "remind_inactive_users") == {
        "reminded": 0,
        "warned": 0,
        "deleted": 0,
    }


def test_monthly_digest_runs_on_the_second_tuesday_slot(
    app, run_queued_tasks, mailbox, fixed_clock
):
    fixed_clock(datetime(2026, 12, 8, 1, 0, 30, tzinfo=UTC))
    make_user(app, "alice@example.com", card=(12, 2026, "4242"))
    make_user(app, "off@example.com", active=False)
    make_user(app, "root@example.com", role="admin")
    second_tuesday_november = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)
    with app.app_context():
        db.session.add(JobRun(job="monthly_digest", slot_at=second_tuesday_november))
        db.session.commit()
        job = get_job("monthly_digest")
        # A week before the slot nothing is due; just after 01:00 on 8 December it is.
        assert scheduler.claim(job, datetime(2026, 12, 1, 1, 0, 30, tzinfo=UTC)) == []
        assert len(scheduler.claim(job, datetime(2026, 12, 8, 1, 0, 30, tzinfo=UTC))) == 1
        db.session.commit()
    run_queued_tasks()
    run = latest_run(app, "monthly_digest")
    assert (run.status, run.slot_at.day, run.result["sent"]) == ("succeeded", 8, 1)
    [digest] = mailbox.wait_for(1)
    assert (digest["To"], digest["Subject"]) == (
        "alice@example.com",
        "Your SaaS account in December 2026",
    )
    assert "visa ending 4242" in text_body(digest)
    assert "expires soon" in text_body(digest)


def test_retention_prunes_old_finished_runs_but_keeps_each_jobs_newest_slot(
    app, runner, run_queued_tasks, fixed_clock
):
    old = days_ago(120)
    with app.app_context():
        for days in (3, 2, 1):
            db.session.add(
                JobRun(
                    job="mark_expiring_cards",
                    slot_at=old - timedelta(days=days),
                    status="succeeded",
                    created_at=old,
                )
            )
        db.session.add(JobRun(job="monthly_digest", status="failed", created_at=old))
        db.session.commit()
    result = run_job(runner, run_queued_tasks, "prune_job_runs")
    assert result["runs_deleted"] == 3
    with app.app_context():
        kept = db.session.execute(db.select(JobRun.job, JobRun.slot_at)).all()
    assert ("mark_expiring_cards", old - timedelta(days=1)) in kept
