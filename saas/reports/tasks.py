"""The worker task that builds a report, writing its progress at a bounded rate."""

import logging
import time
from datetime import timedelta
from pathlib import Path

from flask import current_app

from saas.auth.models import User
from saas.database import now_utc
from saas.extensions import db
from saas.jobs import lifecycle
from saas.jobs.retry import PermanentError
from saas.mail import send_email
from saas.reports.builders import BUILDERS, HEADER, csv_writer
from saas.reports.models import REPORTS, Report, ReportStatus
from saas.urls import absolute_url

log = logging.getLogger(__name__)


class Canceled(Exception):
    pass


def report_dir() -> Path:
    """The reports folder, created on first need; a folder that cannot be made is a setup
    problem that no retry fixes."""
    folder = Path(current_app.config["REPORT_DIR"])
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PermanentError(f"the reports folder {folder} cannot be created ({error})") from error
    return folder


class Progress:
    """Counts rows; writes to the report at most every REPORT_PROGRESS_INTERVAL seconds (and on
    every stage change), and learns there whether the requester asked to cancel."""

    def __init__(self, report_id: int):
        self.report_id = report_id
        self.processed, self.total, self.current_stage = 0, 0, None
        self.interval = current_app.config["REPORT_PROGRESS_INTERVAL"]
        self.last_write = 0.0

    def start(self, total: int) -> None:
        self.total = total
        self.write()

    def stage(self, label: str) -> None:
        self.current_stage = label
        self.write()

    def advance(self, rows: int) -> None:
        self.processed += rows
        if time.monotonic() - self.last_write >= self.interval:
            self.write()

    def write(self) -> None:
        self.last_write = time.monotonic()
        cancel = db.session.execute(
            db.update(Report)
            .where(Report.id == self.report_id)
            .values(
                processed=self.processed,
                total=max(self.total, self.processed),
                stage=self.current_stage,
                progress_updated_at=now_utc(),
            )
            .returning(Report.cancel_requested)
            .execution_options(synchronize_session=False)
        ).scalar_one()
        db.session.commit()
        if cancel:
            raise Canceled()


@lifecycle.durable_task(REPORTS)
def build_report(report_id: int) -> None:
    """Build one report. From the claim on, every way out records an outcome: succeeded,
    canceled, or failed (retried as the policy says) with a readable error."""
    started = lifecycle.claim(
        REPORTS,
        report_id,
        returning=(Report.kind, Report.user_id, Report.public_id),
        values={Report.started_at: now_utc(), Report.error: None, Report.processed: 0},
    )
    if started is None:
        return  # canceled before it started, or already taken
    progress = Progress(report_id)
    try:
        with lifecycle.lease_kept(REPORTS, report_id):
            path, summary = _build(started, progress)
    except Canceled:
        db.session.rollback()
        lifecycle.finish(REPORTS, report_id, ReportStatus.CANCELED, _finished())
        log.info("Report %s canceled", report_id)
    except Exception as error:
        db.session.rollback()
        message = f"The report could not be built: {error}"
        failure = lifecycle.fail(
            REPORTS, report_id, started.attempts, error, _finished(), message=message
        )
        log.warning("Report %s failed: %s (now %s)", report_id, error, failure.status)
    else:
        _succeed(report_id, started, progress, path, summary)


def _build(started, progress: Progress) -> tuple[Path, dict]:
    path = report_dir() / f"{started.public_id}.csv"
    partial = path.with_suffix(".partial")
    try:
        with partial.open("w", newline="") as file:
            write = csv_writer(file)
            write(HEADER)
            summary = BUILDERS[started.kind](started.user_id, progress, write)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path, summary


def _finished() -> dict:
    now = now_utc()
    return {Report.finished_at: now, Report.progress_updated_at: now}


def _succeed(report_id: int, started, progress: Progress, path: Path, summary: dict) -> None:
    """Succeeded, and the "ready" email in the same transaction: one email, never lost."""
    retention = timedelta(hours=current_app.config["REPORT_RETENTION_HOURS"])
    email_to = db.session.get(User, started.user_id).email
    db.session.rollback()
    values = {
        **_finished(),
        Report.processed: progress.processed,
        Report.total: progress.processed,
        Report.stage: "Done",
        Report.summary: summary,
        Report.file_name: path.name,
        Report.file_size: path.stat().st_size,
        Report.expires_at: now_utc() + retention,
    }
    report_url = absolute_url("reports.show", public_id=started.public_id)
    lifecycle.finish(
        REPORTS,
        report_id,
        ReportStatus.SUCCEEDED,
        values,
        then=lambda: send_email(
            to=email_to, user_id=started.user_id, template="report_ready", report_url=report_url
        ),
    )
