"""Huey as a Flask extension: created unbound, bound by `init_app`, every task run in an app
context. A leaf like saas.database (it imports nothing from saas), so saas.extensions, which
creates the one Huey, stays below the job layer."""

import threading
from datetime import UTC, datetime

import redis
from huey import Huey, signals
from huey.storage import RedisExpireStorage, RedisStorage, SqliteStorage

UNBOUND = "the Huey is not bound to an app: call huey.init_app(app) (create_app does) first"


# Huey's consumer waits this long in BRPOP for a task; a socket timeout must outlast it.
BLOCKING_READ_SECONDS = 1


def storage_for(config: dict) -> tuple[type, dict]:
    """Redis storage (results expire) when REDIS_URL is set, else Huey's SQLite storage. The
    pool's timeouts make an enqueue fail within seconds when Redis is down, not hang a request."""
    if config.get("REDIS_URL"):
        timeouts = dict(config.get("REDIS_TIMEOUTS") or {})
        if "socket_timeout" in timeouts:
            timeouts["socket_timeout"] = max(timeouts["socket_timeout"], BLOCKING_READ_SECONDS + 1)
        pool = redis.ConnectionPool.from_url(config["REDIS_URL"], **timeouts)
        return RedisExpireStorage, {
            "connection_pool": pool,
            "expire_time": config["HUEY_RESULT_TTL"],
            "read_timeout": BLOCKING_READ_SECONDS,
        }
    return SqliteStorage, {"filename": config["HUEY_SQLITE_PATH"]}


class UnboundStorage:
    """The storage until `init_app`: any use fails loudly, where an in-memory placeholder would
    take the task and lose it."""

    def __init__(self, name: str, **kwargs):
        self.name = name

    def __getattr__(self, attribute: str):
        raise RuntimeError(f"{UNBOUND} (storage.{attribute} was used)")


class FlaskHuey(Huey):
    """Huey created unbound at import and bound to an app by `init_app`, like any extension."""

    def __init__(self):
        super().__init__("unbound", storage_class=UnboundStorage)
        self.flask_app = None
        self.in_flight: dict[str, dict] = {}  # consumer thread name -> the task it runs

    def init_app(self, app) -> None:
        self.name = app.config["QUEUE_NAME"]
        self.storage_class, self.storage_kwargs = storage_for(app.config)
        self.storage = self.create_storage()
        self.flask_app = app
        app.extensions["huey"] = self

    def execute(self, task, timestamp=None):
        """Run `task` in an app context, the one place tasks get one: consumer threads have none."""
        if self.flask_app is None:
            raise RuntimeError(UNBOUND)
        thread = threading.current_thread().name
        self.in_flight[thread] = {
            "thread": thread,
            "task": task.name,
            "args": ", ".join(
                [repr(value) for value in task.args]
                + [f"{key}={value!r}" for key, value in (task.kwargs or {}).items()]
            )[:120],
            "since": datetime.now(UTC).isoformat(),
        }
        try:
            with self.flask_app.app_context():
                return super().execute(task, timestamp)
        finally:
            self.in_flight.pop(thread, None)

    def can_pipeline(self) -> bool:
        """Whether enqueue_many sends many tasks in one round trip (Redis)."""
        return isinstance(self.storage, RedisStorage) and not self._immediate

    def enqueue_many(self, tasks: list) -> None:
        """Enqueue Task objects (`task.s(...)`) in one round trip: a pipeline of the LPUSHes
        `enqueue` would send one by one. Every task is serialized before any is sent, so one
        that can't be leaves nothing half done. Redis only (see can_pipeline)."""
        messages = []
        for task in tasks:
            if task.expires:
                task.resolve_expires(self.utc)
            messages.append(self.serialize_task(task))
        pipeline = self.storage.conn.pipeline(transaction=False)
        for message in messages:
            pipeline.lpush(self.storage.queue_key, message)
        pipeline.execute()
        for task in tasks:
            self._emit(signals.SIGNAL_ENQUEUED, task)

    def threads_busy(self) -> list[dict]:
        """What each consumer thread runs now (for the worker's heartbeat)."""
        return sorted(self.in_flight.copy().values(), key=lambda entry: entry["thread"])

    def is_reachable(self) -> bool:
        try:
            self.storage.queue_size()
        except Exception:
            return False
        return True
