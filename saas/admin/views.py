"""/admin/: the overview (admins only, as is every console page): the queue, workers (alive,
and gone with their last beat) and what each runs now, scheduler replicas, every durable kind's
states, and the last 24 hours in charts."""

from datetime import datetime

from flask import render_template, request

from saas.admin import metrics
from saas.admin.console import admin_required, bp
from saas.extensions import huey
from saas.jobs import heartbeat
from saas.jobs.models import Heartbeat


def queue_depth() -> tuple[int | None, int | None]:
    """Tasks waiting and tasks scheduled for later, or (None, None) if the queue is down."""
    try:
        return huey.pending_count(), huey.scheduled_count()
    except Exception:
        return None, None


def busy_threads(worker: Heartbeat) -> list[dict]:
    """The tasks a worker's threads ran at its last beat, oldest first, with parsed times."""
    busy = [
        dict(entry, since=datetime.fromisoformat(entry["since"])) for entry in worker.running or []
    ]
    return sorted(busy, key=lambda entry: entry["since"])


def overview_context() -> dict:
    waiting, scheduled = queue_depth()
    workers = heartbeat.alive("worker")
    return {
        "queue_size": waiting,
        "scheduled": scheduled,
        "workers": workers,
        "gone_workers": heartbeat.gone("worker"),
        "schedulers": heartbeat.alive("scheduler"),
        "gone_schedulers": heartbeat.gone("scheduler"),
        "busy": {worker.name: busy_threads(worker) for worker in workers},
        "kinds": metrics.kind_states(),
        "day": metrics.last_day(),
    }


@bp.get("/")
@admin_required
def index():
    # htmx-style partial refresh: the same page's live part alone.
    template = "admin/_overview.html" if request.args.get("part") == "live" else "admin/index.html"
    return render_template(template, **overview_context())
