"""Reports: a record per request, holding its progress durably (it survives a queue flush and a
page reload) and, once built, where its file is."""

import secrets
from datetime import datetime
from enum import StrEnum

from flask import current_app
from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from saas.database import now_utc
from saas.extensions import db
from saas.jobs.lifecycle import Kind
from saas.jobs.retry import RetryPolicy

ACCOUNT_EXPORT = "account_export"
PRODUCT_SUMMARY = "product_summary"
KINDS = {ACCOUNT_EXPORT: "Export of my account data", PRODUCT_SUMMARY: "Product-wide summary"}


class ReportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    EXPIRED = "expired"


PENDING = (ReportStatus.QUEUED, ReportStatus.RETRYING)
FINISHED = (
    ReportStatus.SUCCEEDED,
    ReportStatus.FAILED,
    ReportStatus.CANCELED,
    ReportStatus.EXPIRED,
)


def new_public_id() -> str:
    return secrets.token_urlsafe(16)


class Report(db.Model):
    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_status_enqueued_at", "status", "enqueued_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=ReportStatus.QUEUED)
    stage: Mapped[str | None] = mapped_column(String(100))
    processed: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(default=0)
    enqueued_at: Mapped[datetime | None] = mapped_column(default=now_utc)
    lease_expires_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    file_name: Mapped[str | None] = mapped_column(String(200))
    file_size: Mapped[int | None]
    summary: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    started_at: Mapped[datetime | None]
    progress_updated_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]

    @property
    def percent(self) -> int:
        if self.status == ReportStatus.SUCCEEDED:
            return 100
        return min(99, int(100 * self.processed / self.total)) if self.total else 0

    @property
    def title(self) -> str:
        return KINDS.get(self.kind, self.kind)

    def progress(self) -> dict:
        return {
            "status": self.status,
            "stage": self.stage,
            "processed": self.processed,
            "total": self.total,
            "percent": self.percent,
            "error": self.error,
            "download": bool(self.file_name and self.status == ReportStatus.SUCCEEDED),
            "cancel_requested": self.cancel_requested and self.status not in FINISHED,
        }


def retry_policy() -> RetryPolicy:
    config = current_app.config
    return RetryPolicy(config["REPORT_RETRIES"], config["REPORT_RETRY_BASE"], cap=300)


def _restart(retry_at: datetime) -> dict:
    return {Report.processed: 0, Report.stage: "Waiting to start again"}


REPORTS = Kind(
    name="report",
    model=Report,
    status=Report.status,
    attempts=Report.attempts,
    lease_expires_at=Report.lease_expires_at,
    due_at=Report.enqueued_at,
    error=Report.error,
    pending=PENDING,
    active=ReportStatus.RUNNING,
    retrying=ReportStatus.RETRYING,
    failed=ReportStatus.FAILED,
    lease=lambda: current_app.config["REPORT_LEASE"],
    policy=retry_policy,
    on_requeue=_restart,
)
