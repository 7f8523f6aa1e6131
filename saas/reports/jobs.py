"""Report housekeeping: files kept REPORT_RETENTION_HOURS then pruned; lost reports recovered."""

from datetime import timedelta

from flask import current_app

from saas.database import now_utc
from saas.extensions import db
from saas.jobs.enqueue import enqueue_after_commit
from saas.jobs.registry import RunContext, periodic
from saas.reports.models import EXPIRED, QUEUED, RUNNING, SUCCEEDED, Report
from saas.reports.tasks import build_report, report_dir


@periodic("15 * * * *", catch_up="latest", overlap="skip")
def prune_reports(run: RunContext) -> dict:
    expired = db.session.execute(
        db.select(Report.id, Report.file_name).where(
            Report.status == SUCCEEDED, Report.expires_at < now_utc()
        )
    ).all()
    folder = report_dir()
    for _id, file_name in expired:
        if file_name:
            (folder / file_name).unlink(missing_ok=True)
    if expired:
        db.session.execute(
            db.update(Report)
            .where(Report.id.in_([row.id for row in expired]))
            .values(status=EXPIRED, file_name=None)
            .execution_options(synchronize_session=False)
        )
    return {"pruned": len(expired)}


@periodic("* * * * *", catch_up="skip", overlap="skip")
def sweep_reports(run: RunContext) -> dict:
    """Re-enqueue reports whose task the queue lost, and restart reports whose worker died (no
    progress written for JOB_LEASE seconds); the conditional start keeps a doubled task harmless."""
    now = now_utc()
    config = current_app.config
    stale = now - timedelta(seconds=config["JOB_LEASE"])
    lost = (
        db.session.execute(
            db.select(Report.id).where(
                Report.status == QUEUED,
                Report.created_at < now - timedelta(seconds=config["SCHEDULER_ENQUEUE_GRACE"]),
            )
        )
        .scalars()
        .all()
    )
    dead = (
        db.session.execute(
            db.update(Report)
            .where(
                Report.status == RUNNING,
                db.func.coalesce(Report.progress_updated_at, Report.started_at) < stale,
            )
            .values(status=QUEUED, processed=0, stage="Restarting after a worker was lost")
            .returning(Report.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    for report_id in [*lost, *dead]:
        enqueue_after_commit(build_report, report_id)
    return {"requeued": len(lost), "restarted": len(dead)}
