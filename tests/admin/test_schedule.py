"""The schedule page and its actions over HTTP: pause and resume (persisted, read by the
scheduler), a missed or skipped slot run once, Run now recorded with the admin, and every
action, done or refused, in the audit log."""

from datetime import UTC, datetime, timedelta

import pytest

from saas.admin.models import AuditEntry
from saas.auth.models import User
from saas.extensions import db
from saas.jobs import scheduler
from saas.jobs.models import JobRun
from saas.jobs.registry import REGISTRY, Job
from tests.support.accounts import make_user

JOB = "mark_expiring_cards"


@pytest.fixture
def admin(app, auth) -> int:
    user_id = make_user(app, "root@example.com", role="admin")
    assert auth.login("root@example.com", "customer-password").status_code == 303
    return user_id


@pytest.fixture
def nightly():
    """A daily job at 00:00 that catches up only its latest missed slot, within a week."""
    job = Job(
        name="nightly",
        func=lambda run: {"ok": True},
        cron="0 0 * * *",
        catch_up="latest",
        catch_up_window=timedelta(days=7),
    )
    REGISTRY[job.name] = job
    yield job
    REGISTRY.pop(job.name)


def post(auth, path: str, data: dict | None = None):
    return auth.post(path, data or {}, token_from="/admin/jobs")


def audit(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(db.select(AuditEntry).order_by(AuditEntry.id)).scalars()
        return [(e.action, e.target_id, e.outcome, e.message, e.actor_email) for e in rows]


def job_section(auth, name: str) -> str:
    page = auth.client.get("/admin/jobs").get_data(as_text=True)
    return page.split(f'data-job="{name}"')[1].split("</section>")[0]


def runs_of(app, name: str) -> list[JobRun]:
    with app.app_context():
        query = db.select(JobRun).where(JobRun.job == name).order_by(JobRun.slot_at, JobRun.id)
        return list(db.session.execute(query).scalars())


def test_pause_and_resume_are_kept_shown_and_audited(app, auth, admin, fixed_clock):
    assert "Pause mark_expiring_cards" in job_section(auth, JOB)
    paused = post(auth, f"/admin/jobs/{JOB}/pause")
    assert paused.status_code == 303 and paused.headers["Location"] == "/admin/jobs"
    section = job_section(auth, JOB)
    assert "status-paused" in section and "Resume mark_expiring_cards" in section
    post(auth, f"/admin/jobs/{JOB}/pause")  # pausing a paused job: a no-op, said and audited
    assert "already paused; nothing changed" in auth.client.get("/admin/jobs").get_data(True)
    post(auth, f"/admin/jobs/{JOB}/resume")
    assert "Pause mark_expiring_cards" in job_section(auth, JOB)
    assert post(auth, "/admin/jobs/no_such_job/pause").status_code == 404
    assert [(a, t, o) for a, t, o, _m, _e in audit(app)] == [
        ("job.pause", JOB, "done"),
        ("job.pause", JOB, "done"),
        ("job.resume", JOB, "done"),
        ("job.pause", "no_such_job", "refused"),
    ]
    assert {email for *_rest, email in audit(app)} == {"root@example.com"}


def test_a_paused_job_gets_no_slot_and_resumed_follows_its_catch_up_policy(
    app, auth, admin, fixed_clock, nightly
):
    with app.app_context():
        db.session.add(JobRun(job="nightly", slot_at=datetime(2026, 11, 28, tzinfo=UTC)))
        db.session.commit()
    fixed_clock(datetime(2026, 11, 28, 12, tzinfo=UTC))
    post(auth, "/admin/jobs/nightly/pause")
    for day in (29, 30):
        with app.app_context():
            scheduler.tick(fixed_clock(datetime(2026, 11, day, 0, 0, 30, tzinfo=UTC)))
    assert len(runs_of(app, "nightly")) == 1  # nothing recorded while paused
    fixed_clock(datetime(2026, 11, 30, 9, tzinfo=UTC))
    post(auth, "/admin/jobs/nightly/resume")
    with app.app_context():
        scheduler.tick(fixed_clock(datetime(2026, 12, 1, 0, 0, 30, tzinfo=UTC)))
    after = {run.slot_at.day: run for run in runs_of(app, "nightly")}
    assert (after[29].status, after[30].status, after[1].status) == (
        "skipped",
        "skipped",
        "enqueued",
    )
    assert after[29].error == "missed while the job was paused (catch_up=latest)"


@pytest.mark.parametrize(
    ("status", "attempt", "error"), [("skipped", 0, "missed"), ("discarded", 3, "boom")]
)
def test_a_skipped_or_discarded_slot_runs_once_when_asked_twice_from_its_first_attempt(
    app, auth, admin, fixed_clock, nightly, run_queued_tasks, status, attempt, error
):
    slot = datetime(2026, 11, 30, tzinfo=UTC)
    with app.app_context():
        not_run = JobRun(job="nightly", slot_at=slot, status=status, attempt=attempt, error=error)
        db.session.add(not_run)
        db.session.commit()
    assert "Run nightly slot 2026-11-30 00:00" in job_section(auth, "nightly")
    path = f"/admin/jobs/nightly/slots/{slot.isoformat()}/run"
    assert post(auth, path).status_code == 303
    assert post(auth, path).status_code == 303  # refused: the slot is claimed
    run_queued_tasks()
    [run] = runs_of(app, "nightly")
    assert (run.status, run.trigger, run.attempt, run.result, run.error) == (
        "succeeded",
        "manual",
        1,
        {"ok": True},
        None,
    )
    assert run.triggered_by == admin
    outcomes = [(a, o) for a, _t, o, _m, _e in audit(app)]
    assert outcomes == [("job.run_slot", "done"), ("job.run_slot", "refused")]
    assert "already has run #" in audit(app)[1][3]
    assert "Run nightly slot 2026-11-30 00:00" not in job_section(auth, "nightly")


def test_a_missed_slot_is_claimed_once_and_bad_slots_are_refused(
    app, auth, admin, fixed_clock, nightly, run_queued_tasks
):
    """A slot no scheduler recorded (down past the catch-up window) shows as missed."""
    section = job_section(auth, "nightly")
    assert 'data-state="missed"' in section
    missed = datetime(2026, 11, 25, tzinfo=UTC)
    assert post(auth, f"/admin/jobs/nightly/slots/{missed.isoformat()}/run").status_code == 303
    run_queued_tasks()
    assert [(r.slot_at, r.status) for r in runs_of(app, "nightly")] == [(missed, "succeeded")]
    for bad in ("2026-11-25T00:30:00+00:00", "2027-01-01T00:00:00+00:00", "yesterday"):
        assert post(auth, f"/admin/jobs/nightly/slots/{bad}/run").status_code == 303
    refusals = [m for a, _t, o, m, _e in audit(app) if o == "refused"]
    assert len(refusals) == 3
    assert "is not a past slot" in refusals[0] and "not an ISO 8601 time" in refusals[2]
    assert len(runs_of(app, "nightly")) == 1


def test_run_now_needs_the_confirmation_and_records_the_admin(app, auth, admin, run_queued_tasks):
    for unconfirmed in ({}, {"confirm": "no"}):
        assert post(auth, f"/admin/jobs/{JOB}/run", unconfirmed).status_code == 303
    assert runs_of(app, JOB) == []
    assert [entry[2] for entry in audit(app)] == ["refused", "refused"]
    assert "Confirm to run" in audit(app)[0][3]

    assert post(auth, f"/admin/jobs/{JOB}/run", {"confirm": "yes"}).status_code == 303
    run_queued_tasks()
    [run] = runs_of(app, JOB)
    assert (run.trigger, run.triggered_by, run.status) == ("manual", admin, "succeeded")
    assert audit(app)[-1][:3] == ("job.run", JOB, "done")


def test_the_audit_log_is_filterable_and_append_only(app, auth, admin):
    post(auth, f"/admin/jobs/{JOB}/pause")
    post(auth, "/admin/jobs/nope/resume")
    page = auth.client.get("/admin/audit?outcome=refused").get_data(as_text=True)
    assert "job.resume" in page and "nope" in page and "job.pause" not in page.split("<tbody>")[1]
    assert "root@example.com" in page and "127.0.0.1" in page
    with app.app_context():
        for statement in (
            db.update(AuditEntry).values(message="rewritten"),
            db.delete(AuditEntry),
        ):
            with pytest.raises(Exception, match="append-only"):
                db.session.execute(statement)
            db.session.rollback()
        assert db.session.scalar(db.select(db.func.count()).select_from(AuditEntry)) == 2
        assert db.session.get(User, admin).is_admin


def test_the_cli_pauses_resumes_and_runs_a_task_with_arguments(
    app, runner, mailbox, run_queued_tasks
):
    assert "is paused" in runner.invoke(args=["jobs", "pause", JOB]).output
    assert "already paused" in runner.invoke(args=["jobs", "pause", JOB]).output
    assert "is resumed" in runner.invoke(args=["jobs", "resume", JOB]).output
    unknown = runner.invoke(args=["jobs", "pause", "nope"])
    assert unknown.exit_code == 1 and "No scheduled job" in unknown.output
    user_id = make_user(app, "ada@example.com")
    task = ["jobs", "run", "send_inactivity_reminder", "--inline", "--arg", f"user_id={user_id}"]
    assert "succeeded" in runner.invoke(args=task).output
    assert run_queued_tasks() == 1  # its email
    assert mailbox.wait_for(1)[0]["To"] == "ada@example.com"
    bad = runner.invoke(args=[*task[:-1], "user_id=x"])
    assert bad.exit_code == 1 and "user_id must be int" in bad.output
