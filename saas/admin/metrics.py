"""What the overview measures: per-state counts and the oldest waiting row of every durable
kind, and the last 24 hours per hour (runs and emails processed, failures, run duration p50/p95,
queue wait p95), drawn as server-side SVG bars."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from saas.database import now_utc
from saas.extensions import db
from saas.jobs import lifecycle
from saas.jobs.models import JobRun, RunStatus
from saas.mail.models import EmailStatus, OutboundEmail

HOURS = 24


@dataclass
class KindState:
    name: str
    counts: dict[str, int]
    oldest_waiting: datetime | None


def kind_states() -> list[KindState]:
    """For each durable kind: rows waiting, in progress and failed (what an operator acts on;
    counting every finished row would read whole tables), and when its oldest waiting row
    became due."""
    states = []
    for kind in sorted(lifecycle.KINDS.values(), key=lambda kind: kind.name):
        open_states = [*kind.pending, kind.active, kind.failed]
        counts = dict(
            db.session.execute(
                db.select(kind.status, db.func.count())
                .where(kind.status.in_(open_states))
                .group_by(kind.status)
            ).all()
        )
        oldest = db.session.scalar(
            db.select(db.func.min(kind.due_at)).where(kind.status.in_(kind.pending))
        )
        states.append(KindState(kind.name, {k: v for k, v in counts.items() if k}, oldest))
    return states


def _hour_of(column, since: datetime):
    """The 0-based hour since `since` a timestamp falls in, computed by the database."""
    seconds = sa.extract("epoch", column) - int(since.timestamp())
    if db.engine.dialect.name == "postgresql":
        return sa.cast(sa.func.floor(seconds / 3600), sa.Integer)
    return sa.cast(seconds / 3600, sa.Integer)  # SQLite: integer division already


def _per_hour(column, since: datetime, *where) -> list[int]:
    hour = _hour_of(column, since).label("hour")
    rows = db.session.execute(
        db.select(hour, db.func.count()).where(column >= since, *where).group_by(hour)
    ).all()
    counts = [0] * HOURS
    for index, count in rows:
        if 0 <= index < HOURS:
            counts[index] = count
    return counts


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def _run_timings(since: datetime) -> tuple[list, list, list]:
    """Per hour: p50 and p95 run duration (ms), and p95 queue wait (s), of runs that finished."""
    rows = db.session.execute(
        db.select(JobRun.finished_at, JobRun.duration_ms, JobRun.enqueued_at, JobRun.started_at)
        .where(JobRun.finished_at >= since, JobRun.duration_ms.is_not(None))
        .limit(200_000)
    ).all()
    durations, waits = [[] for _ in range(HOURS)], [[] for _ in range(HOURS)]
    for finished, duration, enqueued, started in rows:
        index = int((finished - since).total_seconds() // 3600)
        if 0 <= index < HOURS:
            durations[index].append(duration)
            if enqueued and started:
                waits[index].append(max(0.0, (started - enqueued).total_seconds()))
    return (
        [percentile(d, 0.5) for d in durations],
        [percentile(d, 0.95) for d in durations],
        [percentile(w, 0.95) for w in waits],
    )


def last_day() -> dict:
    """Each chart's 24 hourly values, oldest first, and the hours' labels."""
    since = now_utc().replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1)
    p50, p95, wait = _run_timings(since)
    finished = JobRun.finished_at
    return {
        "labels": [(since + timedelta(hours=h)).strftime("%H:00") for h in range(HOURS)],
        "charts": [
            ("Job runs finished", _per_hour(finished, since), ""),
            (
                "Job runs failed",
                _per_hour(finished, since, JobRun.status == RunStatus.FAILED),
                "",
            ),
            ("Run duration p50", p50, "ms"),
            ("Run duration p95", p95, "ms"),
            ("Queue wait p95 (enqueued to started)", wait, "s"),
            ("Emails sent", _per_hour(OutboundEmail.sent_at, since), ""),
            (
                "Emails failed",
                _per_hour(
                    OutboundEmail.updated_at,
                    since,
                    OutboundEmail.status == EmailStatus.FAILED,
                ),
                "",
            ),
        ],
    }
