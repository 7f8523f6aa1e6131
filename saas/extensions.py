"""Extensions, created unbound here and bound to the app in create_app."""

import logging
import time

import flask_limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from limits import parse_many
from sqlalchemy.dialects import postgresql, sqlite

from saas import ratelimit_sqlite  # noqa: F401 - registers the sqlite:// limits storage
from saas.database import Base
from saas.flask_huey import FlaskHuey

log = logging.getLogger(__name__)


class Limiter(flask_limiter.Limiter):
    """Flask-Limiter whose in-memory fallback (Redis down) starts over with each app it is bound
    to: the flag that the storage is dead lives on the extension, which outlives an app."""

    def init_app(self, app) -> None:
        super().init_app(app)
        self._storage_dead = False

    # For limits a view checks itself, once it knows what to count (a wrong password), with the
    # same storage, key prefix and in-memory fallback as the decorators.
    def allows(self, limits_text: str, *identifiers: str) -> bool:
        """True while every limit in `limits_text` has room left for these identifiers."""
        return all(self._apply("test", item, identifiers) for item in parse_many(limits_text))

    def count(self, limits_text: str, *identifiers: str) -> bool:
        """Count one event against every limit; False if one of them was already full."""
        results = [self._apply("hit", item, identifiers) for item in parse_many(limits_text)]
        return all(results)

    def seconds_until_allowed(self, limits_text: str, *identifiers: str) -> int:
        """How long until every full limit among these has room again (0 if none is full)."""
        waits = [
            self._apply("get_window_stats", item, identifiers).reset_time - time.time()
            for item in parse_many(limits_text)
            if not self._apply("test", item, identifiers)
        ]
        return max(1, int(max(waits)) + 1) if waits else 0

    def _apply(self, method: str, item, identifiers):
        if not self.enabled:
            return True  # nothing is ever full, so no window is asked for
        try:
            return getattr(self.limiter, method)(item, *identifiers)
        except Exception:
            if self._storage_dead or not self._in_memory_fallback_enabled:
                raise
            log.warning("Rate limit storage unreachable - falling back to in-memory storage")
            self._storage_dead = True
            return getattr(self.limiter, method)(item, *identifiers)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
huey = FlaskHuey()


def insert_on_conflict(model):
    """An INSERT that supports ON CONFLICT DO NOTHING / DO UPDATE, in the dialect of the engine
    `db` is bound to (PostgreSQL or SQLite)."""
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    return insert(model)
