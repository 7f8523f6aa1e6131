"""Huey as a Flask extension: created unbound, bound by `init_app`, every task run in an app
context. A leaf like saas.database (it imports nothing from saas), so saas.extensions, which
creates the one Huey, stays below the job layer."""

import logging
import threading
import time
from datetime import UTC, datetime

import redis
from huey import Huey, signals
from huey.storage import RedisExpireStorage, SqliteStorage

UNBOUND = "the Huey is not bound to an app: call huey.init_app(app) (create_app does) first"
NO_REVOCATION = (
    "Huey's revocation is off here: cancel work through its row (saas.jobs.lifecycle.discard; "
    "its queued task then claims nothing)"
)


# Huey's consumer waits this long in BRPOP for a task; a socket timeout must outlast it.
BLOCKING_READ_SECONDS = 1
# How often a consumer looks at Huey's SQLite queue while it is empty (see PollingSqliteStorage).
SQLITE_POLL_SECONDS = 0.05


def storage_for(config: dict) -> tuple[type, dict]:
    """Redis storage (results expire) when REDIS_URL is set, else Huey's SQLite storage. The
    pool's timeouts make an enqueue fail within seconds when Redis is down, not hang a request."""
    if config.get("REDIS_URL"):
        timeouts = dict(config.get("REDIS_TIMEOUTS") or {})
        if "socket_timeout" in timeouts:
            timeouts["socket_timeout"] = max(timeouts["socket_timeout"], BLOCKING_READ_SECONDS + 1)
        pool = redis.ConnectionPool.from_url(config["REDIS_URL"], **timeouts)
        return BatchRedisStorage, {
            "connection_pool": pool,
            "expire_time": config["HUEY_RESULT_TTL"],
            "read_timeout": BLOCKING_READ_SECONDS,
        }
    return PollingSqliteStorage, {"filename": config["HUEY_SQLITE_PATH"]}


class BatchRedisStorage(RedisExpireStorage):
    """Huey's Redis storage (results expire), plus many tasks in one round trip."""

    def enqueue_many(self, messages: list[bytes]) -> None:
        pipeline = self.conn.pipeline(transaction=False)
        for message in messages:
            pipeline.lpush(self.queue_key, message)
        pipeline.execute()


class PollingSqliteStorage(SqliteStorage):
    """Huey's SQLite storage, read by a consumer as it reads Redis: `dequeue` waits up to
    BLOCKING_READ_SECONDS for a task. One thread of the process polls the table every
    SQLITE_POLL_SECONDS while the others wait for their turn, so a task starts within that
    interval and an idle worker runs 20 small queries a second whatever its thread count (Huey's
    own backoff, per thread, let a task wait up to --max-delay). Outside a consumer (the web
    process, the tests' in-process runs) `dequeue` returns at once, as Huey's does."""

    blocking = False  # set by FlaskHuey.create_consumer

    def __init__(self, *args, read_timeout: float = BLOCKING_READ_SECONDS, **kwargs):
        super().__init__(*args, **kwargs)
        self.read_timeout = read_timeout
        self._turn = threading.Lock()

    def enqueue_many(self, messages: list[bytes]) -> None:
        """Many tasks in one write transaction (each `enqueue` takes the file's lock and syncs)."""
        rows = [(self.name, self.to_blob(message)) for message in messages]
        with self.db(commit=True) as cursor:
            cursor.executemany("insert into task (queue, data, priority) values (?, ?, 0)", rows)

    def dequeue(self):
        if not self.blocking:
            return super().dequeue()
        deadline = time.monotonic() + self.read_timeout
        if not self._turn.acquire(timeout=self.read_timeout):
            return None
        try:
            while (data := super().dequeue()) is None and time.monotonic() < deadline:
                time.sleep(SQLITE_POLL_SECONDS)
            return data
        finally:
            self._turn.release()


class UnboundStorage:
    """The storage until `init_app`: any use fails loudly, where an in-memory placeholder would
    take the task and lose it."""

    def __init__(self, name: str, **kwargs):
        self.name = name

    def __getattr__(self, attribute: str):
        raise RuntimeError(f"{UNBOUND} (storage.{attribute} was used)")


def quiet_per_task_lines() -> None:
    """Huey writes two INFO lines on its "huey" logger for every task it runs (and one for each
    it schedules): they show at DEBUG only, where the task's own line says what it did; its
    consumer's lines (started, stopping) show at INFO whatever LOG_LEVEL says, as huey_consumer
    has them. A level, not a filter, so the per-task lines are not even built: that was about 3%
    of a worker's CPU per email."""
    level = logging.getLogger().getEffectiveLevel()
    logging.getLogger("huey").setLevel(level if level <= logging.DEBUG else logging.WARNING)
    logging.getLogger("huey.consumer").setLevel(min(level, logging.INFO))


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
        quiet_per_task_lines()

    def create_consumer(self, **options):
        """The consumer's threads wait in `dequeue` for a task, on either storage (Redis: BRPOP;
        SQLite: see PollingSqliteStorage); --delay / --max-delay then only pace retries after a
        failed read."""
        self.storage.blocking = True
        # huey_consumer has just given the "huey" logger a handler in a format of its own: drop
        # it, so Huey's lines go through the app's (saas.logs: text, or JSON) like every other.
        huey_logger = logging.getLogger("huey")
        huey_logger.handlers.clear()
        huey_logger.propagate = True
        quiet_per_task_lines()  # it has set the "huey" logger's level too
        return super().create_consumer(**options)

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

    # Work is cancelled through its row, so no revocation key is ever written, and the read of a
    # task's keys before it runs and their delete after it ran (two storage round trips per task,
    # about 4 ms of a 50-thread worker's time per email on Redis) are skipped.
    def is_revoked(self, task, timestamp=None, peek=True) -> bool:
        return False

    def delete(self, key):
        if key.startswith("r:"):  # Task.revoke_id, which Huey deletes after every task
            return False
        return super().delete(key)

    def revoke(self, *args, **kwargs):
        raise NotImplementedError(NO_REVOCATION)

    revoke_all = revoke_by_id = restore = restore_all = restore_by_id = revoke

    def can_enqueue_many(self) -> bool:
        """Whether enqueue_many can send many tasks at once (both storages here can)."""
        return hasattr(self.storage, "enqueue_many") and not self._immediate

    def enqueue_many(self, tasks: list) -> None:
        """Enqueue Task objects (`task.s(...)`) at once: on Redis one pipeline of the LPUSHes
        `enqueue` would send one by one, on SQLite one transaction. Every task is serialized
        before any is sent, so one that can't be leaves nothing half done."""
        messages = []
        for task in tasks:
            if task.expires:
                task.resolve_expires(self.utc)
            messages.append(self.serialize_task(task))
        self.storage.enqueue_many(messages)
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
