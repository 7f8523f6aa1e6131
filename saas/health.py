"""GET /health: can this process reach the database and the queue, and which schedulers and
workers have been seen lately? 503 when the database or the queue is unreachable; missing
heartbeats are reported but do not fail the check, so a web process is not taken out of
rotation because a worker is restarting."""

from flask import Blueprint, jsonify
from sqlalchemy import text

from saas.extensions import db, huey
from saas.jobs import heartbeat

bp = Blueprint("health", __name__)


def _database_reachable() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        return False
    return True


def _heartbeats(kind: str) -> dict:
    try:
        seen = heartbeat.alive(kind)
    except Exception:
        db.session.rollback()
        return {"status": "unknown", "alive": 0}
    return {
        "status": "ok" if seen else "none seen",
        "alive": len(seen),
        "processes": [
            {"name": beat.name, "last_seen_at": beat.last_seen_at.isoformat()} for beat in seen
        ],
    }


@bp.get("/health")
def health():
    checks = {"database": _database_reachable(), "queue": huey.is_reachable()}
    healthy = all(checks.values())
    body = {"status": "ok" if healthy else "unhealthy"}
    body.update({name: "ok" if ok else "unreachable" for name, ok in checks.items()})
    if checks["database"]:
        body["schedulers"] = _heartbeats("scheduler")
        body["workers"] = _heartbeats("worker")
    return jsonify(body), 200 if healthy else 503
