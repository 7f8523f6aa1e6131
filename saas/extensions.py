"""Extensions, created unbound here and bound to the app in create_app."""

import flask_limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.dialects import postgresql, sqlite

from saas.database import Base
from saas.flask_huey import FlaskHuey


class Limiter(flask_limiter.Limiter):
    """Flask-Limiter whose in-memory fallback (Redis down) starts over with each app it is bound
    to: the flag that the storage is dead lives on the extension, which outlives an app."""

    def init_app(self, app) -> None:
        super().init_app(app)
        self._storage_dead = False


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
