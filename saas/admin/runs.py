"""/admin/runs: the history of job runs (filters, pages by id, failures grouped by exception),
one run's page, and an operator's hands on runs: retry a failed run, discard a failed or waiting
one (a queued run is revoked: its task then finds nothing to claim), and retry every failed run
of one job in a single confirmed action. Every change goes through the one lifecycle."""

from datetime import UTC, datetime, timedelta

from flask import abort, render_template, request, url_for

from saas.admin.audit import UnknownTarget, act
from saas.admin.audit_log import entries_for
from saas.admin.console import PAGE_SIZE, admin_required, bp
from saas.auth.models import User
from saas.database import now_utc
from saas.extensions import db
from saas.jobs import lifecycle
from saas.jobs.lifecycle import Refused
from saas.jobs.models import JOB_RUNS, STARTABLE, JobRun, RunStatus, Trigger
from saas.jobs.registry import REGISTRY

CHOICES = {"job": JobRun.job, "status": JobRun.status, "trigger": JobRun.trigger}
GROUPS_SHOWN = 20
# Without a `since` filter, failures are grouped over this window: recent ones are what an
# operator acts on, and the (status, updated_at) index keeps the grouping cheap on a big table.
GROUPING_WINDOW = timedelta(days=7)
# A retried run starts afresh: what its failed attempts left is in the audit trail and the log.
RESTART = {
    JobRun.started_at: None,
    JobRun.finished_at: None,
    JobRun.duration_ms: None,
    JobRun.worker: None,
    JobRun.result: None,
    JobRun.traceback: None,
}


def allowed(name: str) -> list[str]:
    if name == "job":
        return sorted(REGISTRY)
    return [str(value) for value in (RunStatus if name == "status" else Trigger)]


def parse_since(text: str) -> datetime:
    """An ISO 8601 date or time (UTC unless it says otherwise); 400 for anything else."""
    try:
        moment = datetime.fromisoformat(text)
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        abort(400, description=f"since: {text[:40]!r} is not an ISO 8601 date or time.")


def parse_before(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or len(text) > 18:
        abort(400, description=f"before: {text[:40]!r} is not a run id.")
    return int(text)


def chosen_filters() -> tuple[dict, dict]:
    """The filters as asked (for the form and the next page's link) and their SQL conditions
    by name; a value outside the choices is answered 400 with what is allowed, never 500."""
    chosen = {name: request.args.get(name, "").strip()[:100] for name in (*CHOICES, "since")}
    conditions = {}
    for name, column in CHOICES.items():
        if value := chosen[name]:
            if value not in allowed(name):
                choices = ", ".join(allowed(name))
                abort(400, description=f"{name}: {value[:40]!r} is not one of {choices}.")
            conditions[name] = column == value
    if chosen["since"]:
        conditions["since"] = JobRun.created_at >= parse_since(chosen["since"])
    return chosen, conditions


def failure_groups(conditions: dict) -> list[dict]:
    """Failed runs matching the other filters, grouped by exception class and message (the
    stored error is `Class: message`), each with its count and newest run; busiest last seen
    first."""
    others = [condition for name, condition in conditions.items() if name != "status"]
    if "since" not in conditions:
        others.append(JobRun.updated_at >= now_utc() - GROUPING_WINDOW)
    newest = db.func.max(JobRun.id).label("newest")
    rows = db.session.execute(
        db.select(JobRun.error, db.func.count().label("count"), newest)
        .where(JobRun.status == RunStatus.FAILED, *others)
        .group_by(JobRun.error)
        .order_by(newest.desc())
        .limit(GROUPS_SHOWN)
    ).all()
    return [{**split_error(row.error), "count": row.count, "newest": row.newest} for row in rows]


def split_error(error: str | None) -> dict:
    exception, colon, message = (error or "").partition(":")
    if not colon:
        return {"exception": "—", "message": error or "(no error recorded)"}
    return {"exception": exception.strip(), "message": message.strip()}


def failed_per_job() -> list[tuple[str, int]]:
    """The jobs with failed runs and how many, for the bulk retry (jobs still deployed only)."""
    rows = db.session.execute(
        db.select(JobRun.job, db.func.count())
        .where(JobRun.status == RunStatus.FAILED)
        .group_by(JobRun.job)
        .order_by(JobRun.job)
    ).all()
    return [(job, count) for job, count in rows if job in REGISTRY]


@bp.get("/runs")
@admin_required
def runs():
    chosen, conditions = chosen_filters()
    query = db.select(JobRun).where(*conditions.values()).order_by(JobRun.id.desc())
    if (before := parse_before(request.args.get("before", "").strip())) is not None:
        query = query.where(JobRun.id < before)
    page = list(db.session.execute(query.limit(PAGE_SIZE + 1)).scalars())
    return render_template(
        "admin/runs.html",
        runs=page[:PAGE_SIZE],
        next_before=page[PAGE_SIZE - 1].id if len(page) > PAGE_SIZE else None,
        chosen=chosen,
        active={name: value for name, value in chosen.items() if value},
        allowed=allowed,
        groups=failure_groups(conditions),
        failed_jobs=failed_per_job(),
        waiting=STARTABLE,
    )


def queue_wait(run: JobRun) -> timedelta | None:
    if run.enqueued_at is None or run.started_at is None:
        return None
    return run.started_at - run.enqueued_at


def email_of(user_id: int | None) -> str | None:
    return db.session.scalar(db.select(User.email).where(User.id == user_id)) if user_id else None


@bp.get("/runs/<int:run_id>")
@admin_required
def run(run_id: int):
    found = db.get_or_404(JobRun, run_id)
    return render_template(
        "admin/run.html",
        run=found,
        job=REGISTRY.get(found.job),
        triggered_by=email_of(found.triggered_by),
        queue_wait=queue_wait(found),
        waiting=STARTABLE,
        trail=entries_for("run", run_id),
    )


def known_run(run_id: int) -> JobRun:
    found = db.session.get(JobRun, run_id)
    if found is None:
        raise UnknownTarget(f"No job run #{run_id}.")
    return found


def retry_one(run_id: int) -> str:
    found = known_run(run_id)
    if not lifecycle.requeue_failed(JOB_RUNS, run_id, RESTART):
        raise Refused(f"Run #{run_id} is {found.status}: only a failed run can be retried.")
    return f"Run #{run_id} of {found.job} is enqueued again; a worker will run it."


def discard_one(run_id: int) -> str:
    """A failed run is given up; a waiting one is revoked (its queued task claims nothing)."""
    found = known_run(run_id)
    was = found.status
    if not lifecycle.discard(JOB_RUNS, run_id, RunStatus.DISCARDED):
        raise Refused(
            f"Run #{run_id} is {was}: only a failed or waiting run can be discarded or revoked."
        )
    # A run revoked before it started has no finish time; a failed one keeps its own.
    db.session.execute(
        db.update(JobRun)
        .where(JobRun.id == run_id, JobRun.finished_at.is_(None))
        .values(finished_at=now_utc())
    )
    if was == RunStatus.FAILED:
        return f"Run #{run_id} of {found.job} discarded: it will not be retried."
    return f"Run #{run_id} of {found.job} revoked: its queued task will find nothing to run."


def retry_all_failed(job: str, confirm: str) -> str:
    """Every failed run of `job` enqueued again, once the admin typed the job's name."""
    if job not in REGISTRY:
        raise UnknownTarget(f"No job is called {job!r}.")
    if confirm != job:
        raise Refused(f"Type {job} to confirm retrying all its failed runs; none was retried.")
    failed = (
        db.session.execute(
            db.select(JobRun.id)
            .where(JobRun.job == job, JobRun.status == RunStatus.FAILED)
            .order_by(JobRun.id)
        )
        .scalars()
        .all()
    )
    retried = [run_id for run_id in failed if lifecycle.requeue_failed(JOB_RUNS, run_id, RESTART)]
    if not retried:
        raise Refused(f"{job} has no failed runs; none was retried.")
    noun = "run" if len(retried) == 1 else "runs"
    return f"{len(retried)} failed {noun} of {job} enqueued again."


@bp.post("/runs/<int:run_id>/retry")
@admin_required
def retry_run(run_id: int):
    then = url_for("admin.run", run_id=run_id)
    return act("run.retry", ("run", run_id), lambda: retry_one(run_id), then=then)


@bp.post("/runs/<int:run_id>/discard")
@admin_required
def discard_run(run_id: int):
    then = url_for("admin.run", run_id=run_id)
    return act("run.discard", ("run", run_id), lambda: discard_one(run_id), then=then)


@bp.post("/jobs/<name>/retry-failed")
@admin_required
def retry_failed_runs(name: str):
    confirm = request.form.get("confirm", "").strip()[:100]
    return act(
        "job.retry_failed",
        ("job", name),
        lambda: retry_all_failed(name, confirm),
        then=url_for("admin.runs", job=name),
        arguments={"confirm": confirm},
    )
