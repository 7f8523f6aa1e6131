"""/admin/ and /admin/jobs: the operations console (admins only)."""

from functools import wraps

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from saas.extensions import db, huey
from saas.jobs import clock, heartbeat
from saas.jobs.models import JobRun, RunStatus
from saas.jobs.registry import REGISTRY
from saas.jobs.runner import enqueue_manual_run
from saas.mail.models import OutboundEmail

bp = Blueprint("admin", __name__, url_prefix="/admin")


def admin_required(view):
    @wraps(view)
    @login_required
    def guarded(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return guarded


def _queue_size() -> int | None:
    try:
        return huey.pending_count()
    except Exception:
        return None


@bp.get("/")
@admin_required
def index():
    outbox = dict(
        db.session.execute(
            db.select(OutboundEmail.status, db.func.count()).group_by(OutboundEmail.status)
        ).all()
    )
    failed_runs = db.session.scalar(
        db.select(db.func.count()).select_from(JobRun).where(JobRun.status == RunStatus.FAILED)
    )
    queue_size = _queue_size()
    return render_template(
        "admin/index.html",
        queue_size=queue_size,
        scheduled=len(huey.scheduled()) if queue_size is not None else None,
        workers=heartbeat.alive("worker"),
        schedulers=heartbeat.alive("scheduler"),
        outbox=outbox,
        failed_runs=failed_runs,
    )


@bp.get("/jobs")
@admin_required
def jobs():
    timezone = current_app.config["SCHEDULER_TIMEZONE"]
    now = clock.now()
    last_runs = {
        run.job: run
        for run in db.session.execute(
            db.select(JobRun).where(
                JobRun.id.in_(db.select(db.func.max(JobRun.id)).group_by(JobRun.job))
            )
        ).scalars()
    }
    catalog = [
        {
            "job": job,
            "next": job.next_slots(now, timezone, 3) if job.cron else [],
            "last": last_runs.get(job.name),
        }
        for job in sorted(REGISTRY.values(), key=lambda job: job.name)
    ]
    recent = db.session.execute(db.select(JobRun).order_by(JobRun.id.desc()).limit(50)).scalars()
    failures = db.session.execute(
        db.select(JobRun)
        .where(JobRun.status == RunStatus.FAILED)
        .order_by(JobRun.id.desc())
        .limit(20)
    ).scalars()
    return render_template(
        "admin/jobs.html",
        catalog=catalog,
        timezone=timezone,
        recent=list(recent),
        failures=list(failures),
    )


@bp.post("/jobs/<name>/run")
@admin_required
def run_job(name: str):
    if name not in REGISTRY:
        abort(404)
    run = enqueue_manual_run(name)
    db.session.commit()
    flash(f"Run #{run.id} of {name} enqueued; a worker will run it.", "success")
    return redirect(url_for("admin.jobs"), code=303)
