"""The app's Huey: storage chosen from the app's config, every task run in an app context."""

import redis
from huey import Huey
from huey.storage import MemoryStorage, RedisExpireStorage, SqliteStorage


def storage_for(config: dict) -> tuple[type, dict]:
    """Redis storage (results expire) when REDIS_URL is set, else Huey's SQLite storage."""
    if config.get("REDIS_URL"):
        pool = redis.ConnectionPool.from_url(config["REDIS_URL"])
        return RedisExpireStorage, {
            "connection_pool": pool,
            "expire_time": config["HUEY_RESULT_TTL"],
        }
    return SqliteStorage, {"filename": config["HUEY_SQLITE_PATH"]}


class FlaskHuey(Huey):
    """Huey created unbound at import and bound to an app by `init_app`, like any extension."""

    def __init__(self):
        super().__init__("unbound", storage_class=MemoryStorage)
        self.flask_app = None

    def init_app(self, app) -> None:
        self.name = app.config["QUEUE_NAME"]
        self.storage_class, self.storage_kwargs = storage_for(app.config)
        self.storage = self.create_storage()
        self.flask_app = app
        app.extensions["huey"] = self

    def _execute(self, task, timestamp):
        # The one place tasks get their app context; consumer threads start with none.
        with self.flask_app.app_context():
            return super()._execute(task, timestamp)

    def is_reachable(self) -> bool:
        try:
            self.storage.queue_size()
        except Exception:
            return False
        return True
