"""/reports: request, watch (Server-Sent Events, or polling), cancel, retry, download."""

import json
import time

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required

from saas.extensions import autocommit_if_idle, db, limiter, reads_in_autocommit
from saas.reports import services, streams
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
bp.record_once(lambda state: streams.init_app(state.app))


def requester_key() -> str:
    """Per account; login_required turns anonymous requests away before this is asked."""
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return f"ip:{request.remote_addr}"


def queued_one(response) -> bool:
    """Only a request that queued a build uses up the allowance; a refused one does not."""
    return g.get("report_queued", False)


# One hourly allowance shared by new reports and retries: both queue a build.
request_limit = limiter.shared_limit(
    lambda: current_app.config["REPORT_LIMIT_PER_USER"],
    scope="report-requests",
    key_func=requester_key,
    methods=["POST"],
    deduct_when=queued_one,
)


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
@request_limit
def index():
    if request.method == "POST":
        return create()
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


def create():
    """A full queue is 409, not 429: no rate to wait out, the account's own unfinished reports
    refuse it until one of them finishes or is canceled."""
    try:
        report = services.request_report(
            user=current_user, kind=request.form.get("kind", ACCOUNT_EXPORT)
        )
    except services.TooManyQueued as refusal:
        abort(409, description=str(refusal))
    except services.NotAllowed as refusal:
        abort(400, description=str(refusal))
    db.session.commit()
    g.report_queued = True
    return redirect(url_for("reports.show", public_id=report.public_id), code=303)


@bp.get("/reports/<public_id>")
@login_required
def show(public_id: str):
    return render_template("reports/show.html", report=visible_report(public_id))


@bp.get("/reports/<public_id>/progress")
@reads_in_autocommit
@login_required
def progress(public_id: str):
    return visible_report(public_id).progress()


@bp.get("/reports/<public_id>/events")
@login_required
def events(public_id: str):
    """Progress as Server-Sent Events. A stream lasts REPORT_STREAM_SECONDS at most, then the
    browser reconnects: a worker thread is never held for long by one watcher. Beyond
    REPORT_STREAMS_PER_USER open streams: 429, and the page polls instead."""
    report_id = visible_report(public_id).id
    db.session.rollback()
    lifetime = current_app.config["REPORT_STREAM_SECONDS"]
    release = streams.open_slot(current_user.id)
    response = Response(
        stream_with_context(progress_events(report_id, lifetime, release)),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    # Released when the server closes the response, which it always does (also for HEAD, whose
    # stream never starts), or earlier, when the stream ends by itself.
    response.call_on_close(release)
    return response


def progress_events(report_id: int, lifetime: float, release):
    """The report's progress while it changes, for `lifetime` seconds at most."""
    try:
        yield "retry: 1000\n\n"
        deadline, last = time.monotonic() + lifetime, None
        while time.monotonic() < deadline:
            autocommit_if_idle()  # one round trip a poll: no BEGIN, no ROLLBACK
            state = db.session.get(Report, report_id, populate_existing=True).progress()
            db.session.rollback()  # release the connection between polls
            if state != last:
                yield f"data: {json.dumps(state)}\n\n"
                last = state
            if state["status"] in FINISHED:
                yield "event: done\ndata: {}\n\n"
                return
            time.sleep(0.5)
    finally:  # also on GeneratorExit: the server closed the stream of a client that left
        release()


@bp.post("/reports/<public_id>/cancel")
@login_required
def cancel(public_id: str):
    flash(services.cancel_report(visible_report(public_id)), "info")
    db.session.commit()
    return redirect(url_for("reports.show", public_id=public_id), code=303)


@bp.post("/reports/<public_id>/retry")
@login_required
@request_limit
def retry(public_id: str):
    try:
        flash(services.retry_report(visible_report(public_id)), "info")
    except services.NotAllowed as refusal:
        db.session.rollback()
        flash(str(refusal), "info")
    else:
        db.session.commit()
        g.report_queued = True
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
