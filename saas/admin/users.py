"""/admin/users: find an account by email, see everything about it (plan, card, sign-ins, the
emails, reports and job runs that were about it, the admin actions on it) and act on it:
disable or enable, grant or revoke admin (never the last admin), cancel a report, and the
per-account tasks (re-sync card, expiring-card or inactivity email) through the task form."""

from flask import abort, render_template, request, url_for

from saas.admin.audit import UnknownTarget, act
from saas.admin.audit_log import entries_for
from saas.admin.console import PAGE_SIZE, admin_required, bp
from saas.auth import services as accounts
from saas.auth.models import User
from saas.auth.services import AccountError
from saas.billing.models import Card
from saas.billing.services import current_subscription
from saas.extensions import db
from saas.jobs.lifecycle import Refused
from saas.jobs.models import JobRun
from saas.mail.models import OutboundEmail
from saas.reports import services as reports
from saas.reports.models import FINISHED, Report

RECENT = 20
PER_USER_TASKS = [
    ("resync_card", "Re-sync the card of"),
    ("send_card_expiring_email", "Send the expiring-card email to"),
    ("send_inactivity_reminder", "Send the inactivity reminder to"),
]


def _before() -> int | None:
    before = request.args.get("before", "")
    return int(before) if before.isdigit() and len(before) < 19 else None


@bp.get("/users")
@admin_required
def users():
    search = request.args.get("q", "").strip().lower()[:254]
    query = db.select(User).order_by(User.id.desc())
    if search:
        query = query.where(User.email.contains(search, autoescape=True))
    if (before := _before()) is not None:
        query = query.where(User.id < before)
    page = list(db.session.execute(query.limit(PAGE_SIZE + 1)).scalars())
    flagged = set(
        db.session.execute(
            db.select(Card.user_id).where(
                Card.user_id.in_([u.id for u in page]), Card.expiring_soon.is_(True)
            )
        ).scalars()
    )
    return render_template(
        "admin/users.html",
        users=page[:PAGE_SIZE],
        expiring=flagged,
        search=search,
        next_before=page[PAGE_SIZE - 1].id if len(page) > PAGE_SIZE else None,
    )


def _recent(model, *where, order=None):
    query = db.select(model).where(*where).order_by(order or model.id.desc()).limit(RECENT)
    return list(db.session.execute(query).scalars())


def runs_that_touched(user_id: int) -> list[JobRun]:
    """Runs about the account (a per-account task) and runs that emailed it (a periodic job).
    Two small indexed reads, not one OR: with a subquery in it, PostgreSQL walks job_runs."""
    about = db.select(JobRun.id).where(JobRun.user_id == user_id)
    emailed = db.select(OutboundEmail.job_run_id.label("id")).where(
        OutboundEmail.user_id == user_id, OutboundEmail.job_run_id.is_not(None)
    )
    ids = set()
    for query, column in ((about, JobRun.id), (emailed, OutboundEmail.job_run_id)):
        ids.update(db.session.execute(query.order_by(column.desc()).limit(RECENT)).scalars())
    return _recent(JobRun, JobRun.id.in_(sorted(ids)[-RECENT:]))


@bp.get("/users/<int:user_id>")
@admin_required
def user(user_id: int):
    account = db.session.get(User, user_id) or abort(404)
    return render_template(
        "admin/user.html",
        account=account,
        subscription=current_subscription(account),
        card=db.session.execute(db.select(Card).where(Card.user_id == user_id)).scalar(),
        emails=_recent(OutboundEmail, OutboundEmail.user_id == user_id),
        reports=_recent(Report, Report.user_id == user_id),
        runs=runs_that_touched(user_id),
        tasks=PER_USER_TASKS,
        audit_entries=entries_for("user", user_id),
    )


def _account(user_id: int) -> User:
    account = db.session.get(User, user_id)
    if account is None:
        raise UnknownTarget(f"No account has the id {user_id}.")
    return account


def _account_action(user_id: int, action: str, change):
    """An action on one account through the account rules; their refusal is the console's."""

    def do() -> str:
        try:
            return change(_account(user_id))
        except AccountError as refusal:
            raise Refused(str(refusal)) from refusal

    then = url_for("admin.user", user_id=user_id)
    return act(action, ("user", user_id), do, then=then)


@bp.post("/users/<int:user_id>/disable")
@admin_required
def disable_user(user_id: int):
    return _account_action(user_id, "user.disable", lambda u: accounts.set_enabled(u, False))


@bp.post("/users/<int:user_id>/enable")
@admin_required
def enable_user(user_id: int):
    return _account_action(user_id, "user.enable", lambda u: accounts.set_enabled(u, True))


@bp.post("/users/<int:user_id>/grant-admin")
@admin_required
def grant_admin(user_id: int):
    return _account_action(user_id, "user.grant_admin", lambda u: accounts.set_admin(u, True))


@bp.post("/users/<int:user_id>/revoke-admin")
@admin_required
def revoke_admin(user_id: int):
    return _account_action(user_id, "user.revoke_admin", lambda u: accounts.set_admin(u, False))


@bp.post("/reports/<public_id>/cancel")
@admin_required
def cancel_report(public_id: str):
    report = db.session.execute(
        db.select(Report).where(Report.public_id == public_id[:64])
    ).scalar_one_or_none()

    def do() -> str:
        if report is None:
            raise UnknownTarget(f"No report has the id {public_id[:64]!r}.")
        if report.status in FINISHED:
            raise Refused(f"Report {report.public_id} has already finished ({report.status}).")
        return reports.cancel_report(report)

    then = url_for("admin.user", user_id=report.user_id) if report else url_for("admin.users")
    return act("report.cancel", ("report", public_id[:64]), do, then=then)
