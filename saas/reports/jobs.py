"""Report housekeeping: files kept REPORT_RETENTION_HOURS, then pruned. (Lost reports are
recovered by the durable-work sweep.)"""

from saas.database import now_utc
from saas.extensions import db
from saas.jobs.registry import RunContext, periodic
from saas.reports.models import Report, ReportStatus
from saas.reports.tasks import report_dir


@periodic("15 * * * *", catch_up="latest", overlap="skip")
def prune_reports(run: RunContext) -> dict:
    expired = db.session.execute(
        db.select(Report.id, Report.file_name).where(
            Report.status == ReportStatus.SUCCEEDED, Report.expires_at < now_utc()
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
            .values(status=ReportStatus.EXPIRED, file_name=None)
            .execution_options(synchronize_session=False)
        )
    return {"pruned": len(expired)}
