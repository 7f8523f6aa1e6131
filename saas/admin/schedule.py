"""/admin/jobs: the schedule (each job's next slots, its last slots with missed and skipped ones
marked and why), pause and resume, an extra run now, and a run of one missed or skipped slot."""

from datetime import UTC, datetime

from flask import current_app, render_template, request, url_for
from flask_login import current_user

from saas.admin.audit import UnknownTarget, act
from saas.admin.console import admin_required, bp
from saas.auth.models import User
from saas.extensions import db
from saas.jobs import clock, control
from saas.jobs.lifecycle import Refused
from saas.jobs.models import NOT_RUN, JobRun, RunStatus
from saas.jobs.registry import REGISTRY, Job
from saas.jobs.runner import enqueue_manual_run
from saas.jobs.scheduler import misfire_grace

STRIP_LENGTH = 12  # last slots shown per job
MISSED = "missed"  # a past slot no scheduler recorded: it never ran, and nothing says why


def last_run(job: str) -> JobRun | None:
    """One indexed lookup per job ((job, created_at)), not a GROUP BY over every run."""
    return db.session.execute(
        db.select(JobRun).where(JobRun.job == job).order_by(JobRun.created_at.desc()).limit(1)
    ).scalar()


def slot_strip(job: Job, now: datetime, timezone: str) -> list[dict]:
    """The job's last slots, oldest first: each with its run (if one was recorded) and a state:
    the run's status, `missed` for a slot no replica recorded, or `due` while it may still be."""
    slots = job.last_slots(now, timezone, STRIP_LENGTH)
    runs = {
        run.slot_at: run
        for run in db.session.execute(
            db.select(JobRun).where(JobRun.job == job.name, JobRun.slot_at.in_(slots))
        ).scalars()
    }
    strip = []
    for slot in slots:
        run = runs.get(slot)
        state = run.status if run else (MISSED if now - slot > misfire_grace() else "due")
        strip.append({"slot": slot, "run": run, "state": state})
    return strip


@bp.app_template_test("runnable_slot")
def runnable(entry: dict) -> bool:
    """A slot an admin may run: skipped, discarded, or missed altogether."""
    return entry["state"] in (*NOT_RUN, MISSED)


@bp.get("/jobs")
@admin_required
def jobs():
    timezone = current_app.config["SCHEDULER_TIMEZONE"]
    now = clock.now()
    switches = control.controls()
    last_runs = {name: last_run(name) for name in REGISTRY}
    catalog = [
        {
            "job": job,
            "control": switches.get(job.name),
            "last": last_runs.get(job.name),
            "next": job.next_slots(now, timezone, 3) if job.cron else [],
            "strip": slot_strip(job, now, timezone) if job.cron else [],
        }
        for job in sorted(REGISTRY.values(), key=lambda job: job.name)
    ]
    recent = db.session.execute(db.select(JobRun).order_by(JobRun.id.desc()).limit(20)).scalars()
    failures = db.session.execute(
        db.select(JobRun)
        .where(JobRun.status == RunStatus.FAILED)
        .order_by(JobRun.id.desc())
        .limit(10)
    ).scalars()
    return render_template(
        "admin/jobs.html",
        catalog=catalog,
        timezone=timezone,
        recent=list(recent),
        failures=list(failures),
    )


def _known_job(name: str, periodic: bool = False) -> None:
    job = REGISTRY.get(name)
    if job is None or (periodic and not job.cron):
        raise UnknownTarget(f"No {'scheduled ' if periodic else ''}job is called {name!r}.")


def submitted_arguments() -> dict:
    return {k: v for k, v in request.form.items() if k not in ("csrf_token", "confirm", "next")}


def start_task(name: str, arguments: dict) -> str:
    """Queue a run of `name` with the form's arguments, validated, once the form's box is ticked
    (a run by hand sends real emails or touches real accounts)."""
    _known_job(name)
    job = REGISTRY[name]
    if request.form.get("confirm") != "yes":
        raise Refused(f"Confirm to run {name}: tick the box on its form.")
    try:
        parsed = job.parse_arguments(arguments)
    except ValueError as invalid:
        raise Refused(str(invalid)) from invalid
    if "user_id" in parsed and db.session.get(User, parsed["user_id"]) is None:
        raise Refused(f"No account has the id {parsed['user_id']}.")
    run = enqueue_manual_run(name, by=current_user.id, arguments=parsed)
    db.session.flush()
    return f"Run #{run.id} of {name} enqueued; a worker will run it."


@bp.post("/jobs/<name>/run")
@admin_required
def run_job(name: str):
    arguments = submitted_arguments()
    then = request.form.get("next", "")
    then = then if then.startswith("/admin/") else url_for("admin.jobs")
    user_id = arguments.get("user_id", "")
    target = ("user", user_id) if user_id.isdigit() else ("job", name)
    return act(
        "job.run",
        target,
        lambda: start_task(name, arguments),
        then=then,
        arguments=arguments,
    )


@bp.post("/jobs/<name>/pause")
@admin_required
def pause_job(name: str):
    def do() -> str:
        _known_job(name, periodic=True)
        return control.pause(name, by=current_user.id)

    return act("job.pause", ("job", name), do, then=url_for("admin.jobs"))


@bp.post("/jobs/<name>/resume")
@admin_required
def resume_job(name: str):
    def do() -> str:
        _known_job(name, periodic=True)
        return control.resume(name, by=current_user.id)

    return act("job.resume", ("job", name), do, then=url_for("admin.jobs"))


def parse_slot(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise Refused(f"{text[:40]!r} is not an ISO 8601 time.") from error
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


@bp.post("/jobs/<name>/slots/<slot>/run")
@admin_required
def run_slot(name: str, slot: str):
    def do() -> str:
        _known_job(name, periodic=True)
        run = control.run_slot(name, parse_slot(slot), by=current_user.id)
        return f"Slot {run.slot_at:%Y-%m-%d %H:%M} of {name} claimed as run #{run.id}."

    return act(
        "job.run_slot", ("job", name), do, then=url_for("admin.jobs"), arguments={"slot": slot}
    )
