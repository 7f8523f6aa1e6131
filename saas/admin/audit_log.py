"""/admin/audit: every admin action (who, what, target, arguments, outcome, when, IP), newest
first, filterable, in pages by id (keyset). Read-only: no route edits or deletes an entry."""

from flask import render_template, request

from saas.admin.console import PAGE_SIZE, admin_required, bp
from saas.admin.models import AuditEntry
from saas.extensions import db

FILTERS = {
    "action": AuditEntry.action,
    "target_type": AuditEntry.target_type,
    "target_id": AuditEntry.target_id,
    "outcome": AuditEntry.outcome,
    "actor": AuditEntry.actor_email,
}


def entries_for(target_type: str, target_id: object, limit: int = 20) -> list[AuditEntry]:
    """The newest actions on one target, for its own page."""
    return list(
        db.session.execute(
            db.select(AuditEntry)
            .where(AuditEntry.target_type == target_type, AuditEntry.target_id == str(target_id))
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        ).scalars()
    )


def _before_id() -> int | None:
    before = request.args.get("before", "")
    return int(before) if before.isdigit() and len(before) < 19 else None


@bp.get("/audit")
@admin_required
def audit():
    chosen = {name: request.args.get(name, "").strip()[:100] for name in FILTERS}
    query = db.select(AuditEntry).order_by(AuditEntry.id.desc())
    for name, value in chosen.items():
        if value:
            query = query.where(FILTERS[name] == value)
    if (before := _before_id()) is not None:
        query = query.where(AuditEntry.id < before)
    page = list(db.session.execute(query.limit(PAGE_SIZE + 1)).scalars())
    more = len(page) > PAGE_SIZE
    actions = db.session.execute(db.select(AuditEntry.action).distinct()).scalars().all()
    return render_template(
        "admin/audit.html",
        entries=page[:PAGE_SIZE],
        next_before=page[PAGE_SIZE - 1].id if more else None,
        chosen=chosen,
        actions=sorted(actions),
    )
