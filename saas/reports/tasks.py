"""The worker task that builds a report, writing its progress at a bounded rate."""

import csv
import logging
import time
from datetime import timedelta
from pathlib import Path

from flask import current_app

from saas.auth.models import User
from saas.database import now_utc
from saas.extensions import db, huey
from saas.mail import send_email
from saas.reports.builders import BUILDERS, HEADER
from saas.reports.models import CANCELED, FAILED, QUEUED, RUNNING, SUCCEEDED, Report
from saas.urls import absolute_url

log = logging.getLogger(__name__)


class Canceled(Exception):
    pass


def report_dir() -> Path:
    folder = Path(current_app.config["REPORT_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
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


@huey.task()
def build_report(report_id: int) -> None:
    started = db.session.execute(
        db.update(Report)
        .where(Report.id == report_id, Report.status == QUEUED)
        .values(status=RUNNING, started_at=now_utc(), attempts=Report.attempts + 1, error=None)
        .returning(Report.kind, Report.user_id, Report.public_id)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    db.session.commit()
    if started is None:
        return  # canceled before it started, or already taken
    path = report_dir() / f"{started.public_id}.csv"
    partial = path.with_suffix(".partial")
    progress = Progress(report_id)
    try:
        with partial.open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(HEADER)
            summary = BUILDERS[started.kind](started.user_id, progress, writer.writerow)
        partial.replace(path)
    except Canceled:
        db.session.rollback()
        partial.unlink(missing_ok=True)
        _finish(report_id, CANCELED, error=None)
        log.info("Report %s canceled", report_id)
        return
    except Exception as error:
        db.session.rollback()
        partial.unlink(missing_ok=True)
        _finish(report_id, FAILED, error=f"The report could not be built: {error}"[:2000])
        log.exception("Report %s failed", report_id)
        return
    _finish(
        report_id,
        SUCCEEDED,
        processed=progress.processed,
        total=progress.processed,
        stage="Done",
        summary=summary,
        file_name=path.name,
        file_size=path.stat().st_size,
        expires_at=now_utc() + timedelta(hours=current_app.config["REPORT_RETENTION_HOURS"]),
        email_to=db.session.get(User, started.user_id).email,
        public_id=started.public_id,
    )


def _finish(report_id: int, status: str, email_to: str | None = None, public_id=None, **values):
    db.session.execute(
        db.update(Report)
        .where(Report.id == report_id)
        .values(status=status, finished_at=now_utc(), progress_updated_at=now_utc(), **values)
        .execution_options(synchronize_session=False)
    )
    if email_to:  # in the same transaction as the status: one email, never lost
        send_email(
            to=email_to,
            template="report_ready",
            report_url=absolute_url("reports.show", public_id=public_id),
        )
    db.session.commit()
