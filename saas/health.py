"""GET /health: can this process reach the database and the queue?"""

from flask import Blueprint, jsonify
from sqlalchemy import text

from saas.extensions import db, huey

bp = Blueprint("health", __name__)


def _database_reachable() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        return False
    return True


@bp.get("/health")
def health():
    checks = {"database": _database_reachable(), "queue": huey.is_reachable()}
    healthy = all(checks.values())
    body = {"status": "ok" if healthy else "unhealthy"}
    body.update({name: "ok" if ok else "unreachable" for name, ok in checks.items()})
    return jsonify(body), 200 if healthy else 503
