"""Heartbeats of scheduler replicas and worker processes, for /health and the admin console."""

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from flask import current_app

from saas.database import now_utc
from saas.extensions import db, insert_on_conflict
from saas.jobs.models import Heartbeat
from saas.jobs.outage import Outage, reset_session

log = logging.getLogger(__name__)


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def beat(kind: str, name: str | None = None, running: list[dict] | None = None) -> None:
    """Record that this process is alive, and what its threads run (the caller commits)."""
    now = now_utc()
    statement = insert_on_conflict(Heartbeat).values(
        kind=kind, name=name or process_name(), started_at=now, last_seen_at=now, running=running
    )
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=["kind", "name"], set_={"last_seen_at": now, "running": running}
        )
    )


def alive(kind: str) -> list[Heartbeat]:
    """Processes of `kind` seen within three heartbeat intervals."""
    cutoff = now_utc() - timedelta(seconds=3 * current_app.config["HEARTBEAT_INTERVAL"])
    return list(
        db.session.execute(
            db.select(Heartbeat)
            .where(Heartbeat.kind == kind, Heartbeat.last_seen_at >= cutoff)
            .order_by(Heartbeat.name)
        ).scalars()
    )


def gone(kind: str, within: timedelta = timedelta(hours=24)) -> list[Heartbeat]:
    """Processes of `kind` that stopped beating (past three intervals) within `within`."""
    now = now_utc()
    cutoff = now - timedelta(seconds=3 * current_app.config["HEARTBEAT_INTERVAL"])
    return list(
        db.session.execute(
            db.select(Heartbeat)
            .where(
                Heartbeat.kind == kind,
                Heartbeat.last_seen_at < cutoff,
                Heartbeat.last_seen_at >= now - within,
            )
            .order_by(Heartbeat.last_seen_at.desc())
        ).scalars()
    )


def forget_stale(older_than: timedelta) -> int:
    """Drop heartbeats of processes gone for longer than `older_than`."""
    return db.session.execute(
        db.delete(Heartbeat).where(Heartbeat.last_seen_at < now_utc() - older_than)
    ).rowcount


def beat_once(
    app, kind: str, name: str, outage: Outage, running: Callable[[], list[dict]] | None = None
) -> float:
    """One guarded beat; returns the wait before the next (longer while the database is down)."""
    with app.app_context():
        try:
            beat(kind, name, running() if running else None)
            db.session.commit()
        except Exception as error:
            return outage.failed(error)
        finally:
            reset_session()
    outage.recovered()
    return app.config["HEARTBEAT_INTERVAL"]


def start_heartbeat_thread(
    app, kind: str, running: Callable[[], list[dict]] | None = None
) -> threading.Thread:
    """Beat every HEARTBEAT_INTERVAL seconds from a daemon thread (the worker's heartbeat), with
    what `running` says the process's threads run."""
    interval, cap = app.config["HEARTBEAT_INTERVAL"], app.config["OUTAGE_BACKOFF_CAP"]
    name = process_name()
    outage = Outage(f"{kind.capitalize()} heartbeat", log, base=interval, cap=cap)

    def loop() -> None:
        while True:
            time.sleep(beat_once(app, kind, name, outage, running))

    thread = threading.Thread(target=loop, name=f"{kind}-heartbeat", daemon=True)
    thread.start()
    return thread
