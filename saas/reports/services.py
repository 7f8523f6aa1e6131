"""Report requests and their state changes: request, cancel, retry."""

from flask import current_app

from saas.auth.models import User
from saas.extensions import db
from saas.jobs import lifecycle
from saas.jobs.enqueue import IdOf
from saas.reports.models import KINDS, PENDING, PRODUCT_SUMMARY, REPORTS, Report, ReportStatus


class NotAllowed(ValueError):
    """A request the requester may not make; the message says why."""


class TooManyQueued(NotAllowed):
    """The requester already has REPORT_QUEUED_PER_USER reports waiting or being built."""


def check_queue_room(user_id: int) -> None:
    """Refuse a report beyond REPORT_QUEUED_PER_USER unfinished ones, so one account cannot
    fill the workers' queue."""
    # On PostgreSQL, the lock makes one account's concurrent requests count one after the other.
    db.session.execute(db.select(User.id).where(User.id == user_id).with_for_update())
    unfinished = db.session.scalar(
        db.select(db.func.count(Report.id)).where(
            Report.user_id == user_id, Report.status.in_([*REPORTS.pending, REPORTS.active])
        )
    )
    cap = current_app.config["REPORT_QUEUED_PER_USER"]
    if unfinished >= cap:
        raise TooManyQueued(
            f"You already have {unfinished} reports waiting or being built (at most {cap}): "
            "wait for one to finish, or cancel one, then ask again."
        )


def request_report(*, user, kind: str) -> Report:
    """A new report for `user`, built by the worker after the caller's commit."""
    if kind not in KINDS or (kind == PRODUCT_SUMMARY and not user.is_admin):
        raise NotAllowed("Choose a report you are allowed to request.")
    check_queue_room(user.id)
    report = Report(user_id=user.id, kind=kind)
    db.session.add(report)
    lifecycle.enqueue(REPORTS, IdOf(report))
    return report


def cancel_report(report: Report) -> str:
    """Cancel now if it has not started; a running build stops at its next progress write.
    Returns what the requester is told."""
    if report.status in PENDING:
        report.status = ReportStatus.CANCELED  # the claim will find nothing to start
        return "Report canceled."
    if report.status == ReportStatus.RUNNING:
        report.cancel_requested = True
        return "Cancel requested: the report stops at its next progress update."
    return "This report has already finished."


def retry_report(report: Report) -> str:
    """Build a failed or canceled report again from the start."""
    if report.status not in (ReportStatus.FAILED, ReportStatus.CANCELED):
        raise NotAllowed("Only a failed or canceled report can be retried.")
    check_queue_room(report.user_id)
    for column, value in lifecycle.queued_values(REPORTS).items():
        setattr(report, column.key, value)
    report.cancel_requested, report.processed, report.total, report.stage = False, 0, 0, None
    lifecycle.enqueue(REPORTS, report.id)
    return "The report is queued again."
