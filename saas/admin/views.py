"""/admin/: the overview (admins only, as is every console page): the queue, workers (alive,
and gone with their last beat) and what each runs now, scheduler replicas, every durable kind's
states, and the last 24 hours in charts."""

from flask import render_template, request

from saas.admin import metrics
from saas.admin.console import admin_required, bp
from saas.extensions import db, huey
from saas.jobs import heartbeat
from saas.jobs.models import JobRun, RunStatus


def queue_depth() -> tuple[int | None, int | None]:
    """Tasks waiting and tasks scheduled for later, or (None, None) if the queue is down."""
    try:
        return huey.pending_count(), huey.scheduled_count()
    except Exception:
        return None, None


def running_by_worker() -> dict[str, list[JobRun]]:
    """Job runs in progress, by the worker process (host:pid) that holds them."""
    running = db.session.execute(
        db.select(JobRun).where(JobRun.status == RunStatus.RUNNING).order_by(JobRun.id)
    ).scalars()
    by_process: dict[str, list[JobRun]] = {}
    for run in running:
        process = ":".join((run.worker or "?").split(":")[:2])
        by_process.setdefault(process, []).append(run)
    return by_process


def overview_context() -> dict:
    waiting, scheduled = queue_depth()
    return {
        "queue_size": waiting,
        "scheduled": scheduled,
        "workers": heartbeat.alive("worker"),
        "gone_workers": heartbeat.gone("worker"),
        "schedulers": heartbeat.alive("scheduler"),
        "gone_schedulers": heartbeat.gone("scheduler"),
        "running": running_by_worker(),
        "kinds": metrics.kind_states(),
        "day": metrics.last_day(),
    }


@bp.get("/")
@admin_required
def index():
    # htmx-style partial refresh: the same page's live part alone.
    template = "admin/_overview.html" if request.args.get("part") == "live" else "admin/index.html"
    return render_template(template, **overview_context())
