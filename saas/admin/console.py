"""The console's blueprint, its guard and what every console page shares."""

from datetime import datetime
from functools import wraps

from flask import Blueprint, abort, current_app
from flask_login import current_user, login_required

from saas.jobs import clock

bp = Blueprint("admin", __name__, url_prefix="/admin")

# The sub-navigation, in order; a section shows once its view exists.
SECTIONS = [
    ("admin.index", "Overview"),
    ("admin.jobs", "Schedule"),
    ("admin.runs", "Runs"),
    ("admin.emails", "Emails"),
    ("admin.contact", "Inbox"),
    ("admin.stripe_events", "Stripe events"),
    ("admin.users", "Users"),
    ("admin.audit", "Audit log"),
]
PAGE_SIZE = 50


def admin_required(view):
    @wraps(view)
    @login_required
    def guarded(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return guarded


@bp.context_processor
def console_navigation() -> dict:
    endpoints = current_app.view_functions
    sections = [(e, label) for e, label in SECTIONS if e in endpoints]
    return {"admin_sections": sections, "admin_endpoints": endpoints}


@bp.app_template_filter("ago")
def ago(moment: datetime) -> str:
    """'3 min ago', 'in 2 h': the absolute time goes in the title beside it."""
    seconds = (clock.now() - moment).total_seconds()
    span = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if span >= size:
            amount = f"{int(span // size)} {unit}"
            break
    else:
        amount = f"{int(span)} s"
    return f"{amount} ago" if seconds >= 0 else f"in {amount}"
