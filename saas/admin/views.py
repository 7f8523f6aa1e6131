"""/admin/: the overview (admins only, as is every console page)."""

from flask import render_template

from saas.admin.console import admin_required, bp
from saas.extensions import db, huey
from saas.jobs import heartbeat
from saas.jobs.models import JobRun, RunStatus
from saas.mail.models import OutboundEmail


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
