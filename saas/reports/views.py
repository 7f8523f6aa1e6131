"""/reports: request, watch (Server-Sent Events, or polling), cancel, retry, download."""

import json
import time

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required

from saas.extensions import db
from saas.jobs.enqueue import IdOf, enqueue_after_commit
from saas.reports.models import (
    ACCOUNT_EXPORT,
    CANCELED,
    FAILED,
    FINISHED,
    KINDS,
    PRODUCT_SUMMARY,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Report,
)
from saas.reports.tasks import build_report, report_dir

bp = Blueprint("reports", __name__)


def visible_report(public_id: str) -> Report:
    """The report, if this user may see it: its owner, or any admin for product-wide reports.
    Anyone else gets the same 404 as for an id that does not exist."""
    report = db.session.execute(
        db.select(Report).where(Report.public_id == public_id)
    ).scalar_one_or_none()
    allowed = report is not None and (
        report.user_id == current_user.id
        or (report.kind == PRODUCT_SUMMARY and current_user.is_admin)
    )
    if not allowed:
        abort(404)
    return report


@bp.route("/reports", methods=["GET", "POST"])
@login_required
def index():
    if request.method == "POST":
        kind = request.form.get("kind", ACCOUNT_EXPORT)
        if kind not in KINDS or (kind == PRODUCT_SUMMARY and not current_user.is_admin):
            abort(400, description="Choose a report you are allowed to request.")
        report = Report(user_id=current_user.id, kind=kind)
        db.session.add(report)
        enqueue_after_commit(build_report, IdOf(report))
        db.session.commit()
        return redirect(url_for("reports.show", public_id=report.public_id), code=303)
    reports = db.session.execute(
        db.select(Report)
        .where(
            (Report.user_id == current_user.id)
            | ((Report.kind == PRODUCT_SUMMARY) if current_user.is_admin else False)
        )
        .order_by(Report.id.desc())
        .limit(50)
    ).scalars()
    return render_template("reports/index.html", reports=list(reports), kinds=KINDS)


@bp.get("/reports/<public_id>")
@login_required
def show(public_id: str):
    return render_template("reports/show.html", report=visible_report(public_id))


@bp.get("/reports/<public_id>/progress")
@login_required
def progress(public_id: str):
    return visible_report(public_id).progress()


@bp.get("/reports/<public_id>/events")
@login_required
def events(public_id: str):
    """Progress as Server-Sent Events. A stream lasts REPORT_STREAM_SECONDS at most, then the
    browser reconnects: a worker thread is never held for long by one watcher."""
    report_id = visible_report(public_id).id
    db.session.rollback()
    lifetime = current_app.config["REPORT_STREAM_SECONDS"]

    def stream():
        yield "retry: 1000\n\n"
        deadline, last = time.monotonic() + lifetime, None
        while time.monotonic() < deadline:
            state = db.session.get(Report, report_id, populate_existing=True).progress()
            db.session.rollback()  # release the connection between polls
            if state != last:
                yield f"data: {json.dumps(state)}\n\n"
                last = state
            if state["status"] in FINISHED:
                yield "event: done\ndata: {}\n\n"
                return
            time.sleep(0.5)

    return Response(
        stream_with_context(stream()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@bp.post("/reports/<public_id>/cancel")
@login_required
def cancel(public_id: str):
    report = visible_report(public_id)
    if report.status == QUEUED:
        report.status = CANCELED  # the task will find nothing to start
    elif report.status == RUNNING:
        report.cancel_requested = True  # the task stops at its next progress write
    db.session.commit()
    return redirect(url_for("reports.show", public_id=public_id), code=303)


@bp.post("/reports/<public_id>/retry")
@login_required
def retry(public_id: str):
    report = visible_report(public_id)
    if report.status not in (FAILED, CANCELED):
        flash("Only a failed or canceled report can be retried.", "info")
    else:
        report.status, report.error, report.cancel_requested = QUEUED, None, False
        report.processed, report.total, report.stage = 0, 0, None
        enqueue_after_commit(build_report, report.id)
        db.session.commit()
    return redirect(url_for("reports.show", public_id=public_id), code=303)


@bp.get("/reports/<public_id>/download")
@login_required
def download(public_id: str):
    report = visible_report(public_id)
    if report.status != SUCCEEDED or not report.file_name:
        abort(404)
    return send_from_directory(
        report_dir(),
        report.file_name,
        as_attachment=True,
        download_name=f"{report.kind}-{report.created_at:%Y%m%d-%H%M}.csv",
        mimetype="text/csv",
    )
