"""Extensions, created unbound here and bound to the app in create_app."""

import functools
import logging
import math
import time
from dataclasses import dataclass, field

import flask_limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from limits import parse_many
from limits.storage import RedisStorage
from sqlalchemy.dialects import postgresql, sqlite

from saas import ratelimit_sqlite  # noqa: F401 - registers the sqlite:// limits storage
from saas.database import Base
from saas.flask_huey import FlaskHuey

log = logging.getLogger(__name__)

# Limiter.take in one Redis round trip: fixed windows, keyed and expiring as `limits` does. The
# first ARGV is how many KEYS are enforced; each key then has its amount and window (seconds).
# Any enforced key that is full refuses the lot (nothing counted), with the ms until the last
# full window ends; otherwise every key is counted, and the counts come back.
TAKE_SCRIPT = """
local enforced, full, wait = tonumber(ARGV[1]), false, 0
for i = 1, enforced do
    local current = tonumber(redis.call('get', KEYS[i]) or '0')
    if current + 1 > tonumber(ARGV[2 * i]) then
        full, wait = true, math.max(wait, redis.call('pttl', KEYS[i]))
    end
end
if full then return {0, wait} end
local counts = {1}
for i = 1, #KEYS do
    local count = redis.call('incrby', KEYS[i], 1)
    if count == 1 then redis.call('expire', KEYS[i], ARGV[2 * i + 1]) end
    counts[i + 1] = count
end
return counts
"""


@dataclass
class Taken:
    """What Limiter.take did: refused (nothing counted, retry after `retry_after` s), or counted
    one against every limit, with whether each courtesy allowance still had room."""

    allowed: bool
    retry_after: int = 0
    courtesies: list[bool] = field(default_factory=list)


class Limiter(flask_limiter.Limiter):
    """Flask-Limiter whose in-memory fallback (Redis down) starts over with each app it is bound
    to: the flag that the storage is dead lives on the extension, which outlives an app."""

    def init_app(self, app) -> None:
        super().init_app(app)
        self._storage_dead = False
        self._take_script = None  # TAKE_SCRIPT, registered with the Redis client

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

    def take(self, enforced: list[tuple], courtesies: list[tuple] = ()) -> Taken:
        """Check every (limits_text, *identifiers) in `enforced` and, when all have room, count
        one against each and against every courtesy allowance, which never refuses: it only
        says whether it had room. One round trip on Redis, for a view that counts only what it
        accepted (a form with errors never gets here)."""
        if not self.enabled:
            return Taken(True, courtesies=[True] * len(courtesies))
        enforced_items = [(item, ids) for text, *ids in enforced for item in parse_many(text)]
        courtesy_items = [[(item, ids) for item in parse_many(text)] for text, *ids in courtesies]
        try:
            storage = self.limiter.storage
            if isinstance(storage, RedisStorage):
                return self._take_in_redis(storage, enforced_items, courtesy_items)
            return self._take_one_by_one(enforced_items, courtesy_items)
        except Exception:
            if self._storage_dead or not self._in_memory_fallback_enabled:
                raise
            log.warning("Rate limit storage unreachable - falling back to in-memory storage")
            self._storage_dead = True
            return self._take_one_by_one(enforced_items, courtesy_items)

    def _take_in_redis(self, storage, enforced_items, courtesy_items) -> Taken:
        items = enforced_items + [pair for group in courtesy_items for pair in group]
        keys = [storage.prefixed_key(item.key_for(*ids)) for item, ids in items]
        windows = [value for item, _ids in items for value in (item.amount, item.get_expiry())]
        connection = storage.get_connection()
        script = self._take_script
        if script is None or script.registered_client is not connection:
            script = self._take_script = connection.register_script(TAKE_SCRIPT)
        answer = script(keys=keys, args=[len(enforced_items), *windows])
        if not answer[0]:
            return Taken(False, retry_after=max(1, math.ceil(int(answer[1]) / 1000)))
        counts, had_room = answer[1 + len(enforced_items) :], []
        for group in courtesy_items:
            group_counts, counts = counts[: len(group)], counts[len(group) :]
            pairs = zip(group, group_counts, strict=True)
            had_room.append(all(count <= item.amount for (item, _ids), count in pairs))
        return Taken(True, courtesies=had_room)

    def _take_one_by_one(self, enforced_items, courtesy_items) -> Taken:
        """The same on the SQLite file or in memory: no network round trips to save."""
        strategy = self.limiter
        full = [(item, ids) for item, ids in enforced_items if not strategy.test(item, *ids)]
        if full:
            resets = [strategy.get_window_stats(item, *ids).reset_time for item, ids in full]
            return Taken(False, retry_after=max(1, math.ceil(max(resets) - time.time())))
        for item, ids in enforced_items:
            strategy.hit(item, *ids)
        had_room = [
            all([strategy.hit(item, *ids) for item, ids in group]) for group in courtesy_items
        ]
        return Taken(True, courtesies=had_room)

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


def autocommit_if_idle() -> None:
    """On PostgreSQL, with no transaction open in the session yet, run what follows in
    autocommit: for a request whose one write is one statement, atomic by itself, this saves
    the BEGIN and COMMIT round trips. The caller still commits the session (a no-op on the
    server), which sends its after-commit tasks."""
    if db.engine.dialect.name == "postgresql" and not db.session().in_transaction():
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def reads_in_autocommit(view):
    """For a view that only reads (polled often): its statements run in autocommit, without the
    BEGIN and ROLLBACK round trips around them. Outermost, so the user is loaded that way too."""

    @functools.wraps(view)
    def read(*args, **kwargs):
        autocommit_if_idle()
        return view(*args, **kwargs)

    return read
