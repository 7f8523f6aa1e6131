"""GET /health: each part this service depends on as `ok`, `degraded` or `down`, and overall.

Only a database this process cannot reach makes the answer 503 (status `down`): then it cannot
serve requests, and a load balancer should take it out of rotation. A queue that is down, no
live scheduler or worker, or mail that is not going out make it `degraded` with a 200: the web
still accepts and stores work (the sweeps send it on once the part is back), so restarting it
would not help."""

from datetime import timedelta

from flask import Blueprint, jsonify
from sqlalchemy import text

from saas.database import now_utc
from saas.extensions import autocommit_if_idle, db, huey
from saas.jobs import heartbeat
from saas.mail.models import EmailStatus, OutboundEmail

bp = Blueprint("health", __name__)
OK, DEGRADED, DOWN, UNKNOWN = "ok", "degraded", "down", "unknown"
# Emails retrying and none sent for this long: the mail transport looks down.
MAIL_QUIET_FOR = timedelta(minutes=5)


def _database() -> dict:
    try:
        autocommit_if_idle()  # every check is a read: no BEGIN and ROLLBACK round trips
        db.session.execute(text("SELECT 1"))
    except Exception as error:
        db.session.rollback()
        return {"status": DOWN, "error": type(error).__name__}
    return {"status": OK}


def _queue() -> dict:
    if huey.is_reachable():
        return {"status": OK}
    return {"status": DOWN, "note": "tasks are stored and left to the sweep"}


def _heartbeats(kind: str) -> dict:
    seen = heartbeat.alive(kind)
    return {
        "status": OK if seen else DOWN,
        "alive": len(seen),
        "processes": [
            {"name": beat.name, "last_seen_at": beat.last_seen_at.isoformat()} for beat in seen
        ],
    }


def _newest(column, status: str):
    """`column` of the newest email in `status`: a walk down the primary key that stops at once."""
    query = db.select(column).where(OutboundEmail.status == status)
    return db.session.execute(query.order_by(OutboundEmail.id.desc()).limit(1)).scalar()


def _mail() -> dict:
    """What the outbox says of the transport: emails retrying while none goes out is degraded."""
    retrying = db.session.execute(
        db.select(db.func.count()).where(OutboundEmail.status == EmailStatus.RETRYING)
    ).scalar_one()
    last_sent = _newest(OutboundEmail.sent_at, EmailStatus.SENT)
    quiet = last_sent is None or now_utc() - last_sent > MAIL_QUIET_FOR
    body = {"status": DEGRADED if retrying and quiet else OK, "retrying": retrying}
    body["last_sent_at"] = last_sent.isoformat() if last_sent else None
    if retrying:
        body["last_error"] = _newest(OutboundEmail.last_error, EmailStatus.RETRYING)
    return body


def _from_database(check) -> dict:
    """A part read from the database; unknown (never failing the check) when the read fails."""
    try:
        return check()
    except Exception as error:
        db.session.rollback()
        return {"status": UNKNOWN, "error": type(error).__name__}


DATABASE_PARTS = {
    "schedulers": lambda: _heartbeats("scheduler"),
    "workers": lambda: _heartbeats("worker"),
    "mail": _mail,
}


def overall(parts: dict) -> str:
    if parts["database"]["status"] != OK:
        return DOWN
    return OK if all(part["status"] == OK for part in parts.values()) else DEGRADED


@bp.get("/health")
def health():
    parts = {"database": _database(), "queue": _queue()}
    reachable = parts["database"]["status"] == OK
    for name, check in DATABASE_PARTS.items():
        parts[name] = _from_database(check) if reachable else {"status": UNKNOWN}
    status = overall(parts)
    response = jsonify({"status": status, **parts})
    if status == DOWN:
        response.status_code = 503
        response.headers["Retry-After"] = "5"
    return response
