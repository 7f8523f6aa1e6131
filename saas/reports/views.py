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
from saas.reports import services
from saas.reports.models import (
    ACCOUNT_EXPORT,
    FINISHED,
    KINDS,
    PRODUCT_SUMMARY,
    Report,
    ReportStatus,
)
from saas.reports.tasks import report_dir

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
        try:
            report = services.request_report(
                user=current_user, kind=request.form.get("kind", ACCOUNT_EXPORT)
            )
        except services.NotAllowed as refusal:
            abort(400, description=str(refusal))
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
    flash(services.cancel_report(visible_report(public_id)), "info")
    db.session.commit()
    return redirect(url_for("reports.show", public_id=public_id), code=303)


@bp.post("/reports/<public_id>/retry")
@login_required
def retry(public_id: str):
    try:
        flash(services.retry_report(visible_report(public_id)), "info")
    except services.NotAllowed as refusal:
        flash(str(refusal), "info")
    db.session.commit()
    return redirect(url_for("reports.show", public_id=public_id), code=303)


@bp.get("/reports/<public_id>/download")
@login_required
def download(public_id: str):
    report = visible_report(public_id)
    if report.status != ReportStatus.SUCCEEDED or not report.file_name:
        abort(404)
    return send_from_directory(
        report_dir(),
        report.file_name,
        as_attachment=True,
        download_name=f"{report.kind}-{report.created_at:%Y%m%d-%H%M}.csv",
        mimetype="text/csv",
    )
