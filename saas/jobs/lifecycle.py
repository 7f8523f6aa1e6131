"""The one lifecycle of durable work: every kind of work that lives in a row (emails, job runs,
reports, Stripe events, card syncs) is claimed, leased, finished and swept here.

A row is *pending* (its task is queued, or waits for a retry), *active* (a worker claimed it: its
lease says until when it may be presumed alive) or *finished*. The transitions:

- claim: a conditional UPDATE from a pending state to the active one; only one worker wins, so a
  duplicate task (from the sweep, or a queue that delivered twice) finds the row taken.
- renew: a long attempt extends its lease (`lease_kept`), so only a dead worker loses its row.
- finish / fail: the outcome, written only while the row is still ours (status still active), and
  retried while the database is unreachable, so a blip does not leave the row active until its
  lease runs out. `fail` asks the kind's RetryPolicy once: retry later, or failed for good.
- postpone: a pending row's task comes back later without claiming it (no attempt is spent),
  while a service the attempt needs is known to be down.
- sweep: re-enqueues pending rows whose task should have started by now (the queue lost it, or
  the enqueue after commit failed), and takes back active rows whose lease expired.

Each kind declares its states (a StrEnum in its models.py) and its columns in a `Kind`; its task
is declared with `@durable_task(KIND)`, which is how the sweep learns of it. This module imports
no feature.

A hot path (the outbox) runs its transitions with `autocommit=True`: each is one statement that
commits on its own, on a connection checked out for it and given back at once, so a thread holds
no connection while it waits on a slow service between claim and outcome. Those statements are
compiled once per dialect and run on the driver's cursor (`DriverStatement`)."""

import functools
import logging
import threading
import time
import traceback
from collections import namedtuple
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ClauseElement, Dialect, bindparam, literal
from sqlalchemy.exc import DBAPIError

from saas import logs
from saas.database import database_unavailable, now_utc
from saas.extensions import db, huey
from saas.jobs.enqueue import enqueue_after_commit
from saas.jobs.retry import RetryPolicy, TransientError
from saas.jobs.turns import worker_turns

log = logging.getLogger(__name__)

ERROR_LIMIT = 2000
TRACEBACK_LIMIT = 20000
SWEEP_BATCH = 1000


@dataclass
class Kind:
    """One kind of durable work: its table, states and lifecycle columns."""

    name: str
    model: Any
    status: Any  # the columns, as model attributes
    attempts: Any
    lease_expires_at: Any
    due_at: Any  # when the row's task should start; the sweep re-enqueues rows long past it
    error: Any
    pending: tuple[str, ...]
    active: str
    retrying: str
    failed: str
    lease: Callable[[], float]  # seconds, read from the config at call time
    policy: Callable[[], RetryPolicy]
    traceback: Any = None
    # When the row was created: the age its policy's time budget (retry_for) counts from.
    born: Any = None
    # How long a pending row's task may be overdue before the sweep enqueues it again.
    grace: Callable[[], float] = lambda: current_app.config["SWEEP_GRACE"]
    # Extra values when a row goes back to pending (retry or reclaim), given the retry time.
    on_requeue: Callable[[datetime], dict] = lambda retry_at: {}
    task: Any = field(default=None, repr=False)
    # Claim and outcome UPDATEs built once, by shape (see `_parametrized`), and compiled once
    # per dialect for the autocommit path (see `DriverStatement`).
    statements: dict = field(default_factory=dict, repr=False, compare=False)
    compiled: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def id(self):
        return self.model.id


KINDS: dict[str, Kind] = {}
# A worker's threads start on a backlog together: one builds and compiles a statement while the
# others wait, rather than each doing it under the one GIL.
_BUILDING = threading.Lock()


def durable_task(kind: Kind, *, takes_turns: bool = False, **options):
    """`@huey.task()` for the task that works on one row of `kind` (it takes the row id).
    `takes_turns`: a short task that a backlog runs on every thread at once runs in a turn
    (saas.jobs.turns), giving it up around its long waits."""

    def register(func):
        @functools.wraps(func)  # the same name: the task Huey registers is the function's
        def on_row(row_id, *args, **kwargs):
            work = logs.WORK.set({f"{kind.name}_id": row_id})  # each log line names the row
            try:
                if not takes_turns:
                    return func(row_id, *args, **kwargs)
                with worker_turns.turn():
                    return func(row_id, *args, **kwargs)
            finally:
                logs.WORK.reset(work)

        kind.task = huey.task(**options)(on_row)
        KINDS[kind.name] = kind
        return kind.task

    return register


def enqueue(kind: Kind, row_id) -> None:
    """Queue the kind's task for a row once the caller's transaction commits (`row_id` may be
    an IdOf). Goes through the kind, so a feature's services need not import its tasks."""
    if kind.task is None:
        raise RuntimeError(f"no task is registered for {kind.name!r} work")
    enqueue_after_commit(kind.task, row_id)


def queued_values(kind: Kind) -> dict:
    """The values that (re)start a row's lifecycle: pending, due now, no attempts or error."""
    return {
        kind.status: kind.pending[0],
        kind.due_at: now_utc(),
        kind.attempts: 0,
        kind.error: None,
        kind.lease_expires_at: None,
    }


class Refused(ValueError):
    """An operator's action that the row's current state does not allow; nothing changed."""


def requeue_failed(kind: Kind, row_id: int, values: dict | None = None) -> bool:
    """An operator's retry: a failed row starts its lifecycle again (attempts from 0) and its
    task is queued after the caller's commit. False, and nothing changed, if it was not failed."""
    requeued = db.session.execute(
        db.update(kind.model)
        .where(kind.id == row_id, kind.status == kind.failed)
        .values({**queued_values(kind), **(values or {})})
        .returning(kind.id)
        .execution_options(synchronize_session=False)
    ).first()
    if requeued is not None:
        enqueue(kind, row_id)
    return requeued is not None


def discard(kind: Kind, row_id: int, status: str) -> bool:
    """An operator gives up on a row that is waiting or failed: it takes `status` (final), and a
    task already queued for it finds nothing to claim. False, and nothing changed, if the row is
    being worked on or already finished."""
    discarded = db.session.execute(
        db.update(kind.model)
        .where(kind.id == row_id, kind.status.in_([*kind.pending, kind.failed]))
        .values({kind.status: status, kind.lease_expires_at: None})
        .returning(kind.id)
        .execution_options(synchronize_session=False)
    ).first()
    return discarded is not None


def describe(error: BaseException) -> str:
    """The error as stored on a row: `Class: message`, bounded."""
    return f"{type(error).__name__}: {error}"[:ERROR_LIMIT]


def traceback_of(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))[-TRACEBACK_LIMIT:]


def claim(
    kind: Kind,
    row_id: int,
    *,
    due_by=None,
    returning=(),
    values=None,
    autocommit: bool = False,
    lease=None,
):
    """Take a pending row for one attempt (setting `values` too), if it is due by `due_by` when
    that is given; returns the RETURNING row (attempts first), or None when the row is not
    pending (finished, held by another worker) or not due."""
    now = now_utc()
    seconds = kind.lease() if lease is None else lease
    values = {kind.lease_expires_at: now + timedelta(seconds=seconds), **(values or {})}

    def build(row, values):
        return (
            db.update(kind.model)
            .where(kind.id == row, _is_pending(kind), *_due(kind, due_by))
            .values({kind.status: kind.active, kind.attempts: kind.attempts + 1, **values})
            .returning(kind.attempts.label("attempts"), *returning)
            .execution_options(synchronize_session=False)
        )

    shape = ("claim", "due_by" if due_by is not None else "", *_names(returning))
    statement, parameters, names = _parametrized(kind, shape, build, row_id, values)
    if due_by is not None:
        parameters["due_by"] = due_by
    if autocommit:
        return _run_autocommit(kind, names, statement, parameters).row
    row = db.session.execute(statement, parameters).one_or_none()
    db.session.commit()
    return row


def _is_pending(kind: Kind):
    # The states as separate parameters, not one expanding IN, which only SQLAlchemy's own
    # execution expands (see DriverStatement).
    return kind.status.in_([literal(state, kind.status.type) for state in kind.pending])


def _due(kind: Kind, due_by) -> tuple:
    if due_by is None:
        return ()
    return (kind.due_at <= bindparam("due_by", type_=kind.due_at.type),)


def _names(columns) -> tuple:
    return tuple(getattr(column, "key", None) for column in columns)


def _parametrized(
    kind: Kind, shape: tuple, build, row_id, values: dict
) -> tuple[Any, dict, tuple | None]:
    """`build(row_id, values)`, or the same statement built once for this `shape` and these
    columns with the row id and the values as parameters; those parameters; and the statement's
    cache key (None when built afresh): building and hashing a statement costs more CPU than
    running it (two per email). Values that are SQL expressions, or columns without names,
    build it afresh."""
    names = (*shape, *_names(values))
    if not all(isinstance(name, str) for name in names) or any(
        isinstance(value, ClauseElement) for value in values.values()
    ):
        return build(row_id, values), {}, None
    statement = kind.statements.get(names)
    if statement is None:
        with _BUILDING:
            statement = kind.statements.get(names)
            if statement is None:
                placeholders = {
                    column: bindparam(f"value_{number}", type_=column.type)
                    for number, column in enumerate(values)
                }
                statement = kind.statements[names] = build(bindparam("row_id"), placeholders)
    parameters = {f"value_{number}": value for number, value in enumerate(values.values())}
    return statement, {"row_id": row_id, **parameters}, names


def postpone(
    kind: Kind, row_id: int, delay: float, *, due_by=None, autocommit: bool = False
) -> bool:
    """Leave a pending row (due by `due_by`, when given) unclaimed, its attempts unspent, and run
    its task again in `delay` seconds; False when the row is not pending (or not due), so nothing
    is scheduled."""

    def build(row, values):
        return (
            db.update(kind.model)
            .where(kind.id == row, _is_pending(kind), *_due(kind, due_by))
            .values(values)
            .execution_options(synchronize_session=False)
        )

    values = {kind.due_at: now_utc() + timedelta(seconds=delay)}
    shape = ("postpone", "due_by" if due_by is not None else "")
    statement, parameters, names = _parametrized(kind, shape, build, row_id, values)
    if due_by is not None:
        parameters["due_by"] = due_by
    if autocommit:
        moved = _run_autocommit(kind, names, statement, parameters).rowcount
    else:
        moved = db.session.execute(statement, parameters).rowcount
        db.session.commit()
    if moved:
        kind.task.schedule((row_id,), delay=delay)
    return bool(moved)


def renew(kind: Kind, row_id: int, lease: float | None = None) -> bool:
    """Extend an active row's lease; False when the row is no longer ours."""
    seconds = kind.lease() if lease is None else lease
    renewed = db.session.execute(
        db.update(kind.model)
        .where(kind.id == row_id, kind.status == kind.active)
        .values({kind.lease_expires_at: now_utc() + timedelta(seconds=seconds)})
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(renewed)


@contextmanager
def lease_kept(kind: Kind, row_id: int, lease: float | None = None) -> Iterator[None]:
    """Renew the row's lease every third of it while the block runs, from a thread of its own."""
    app = current_app._get_current_object()
    with app.app_context():
        seconds = kind.lease() if lease is None else lease
    done = threading.Event()

    def keep() -> None:
        while not done.wait(seconds / 3):
            with app.app_context():
                try:
                    renew(kind, row_id, seconds)
                except Exception:
                    db.session.rollback()
                    log.warning("Could not renew the lease of %s %s", kind.name, row_id)

    renewer = threading.Thread(target=keep, name=f"lease-{kind.name}-{row_id}", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        done.set()


def finish(
    kind: Kind,
    row_id: int,
    status: str,
    values: dict | None = None,
    *,
    autocommit: bool = False,
    then=None,
) -> bool:
    """Record the outcome while the row is still ours; True if it was. `then()` adds what must
    commit with the outcome (e.g. an email), and runs only if the row was still ours."""

    def build(row, values):
        return (
            db.update(kind.model)
            .where(kind.id == row, kind.status == kind.active)
            .values({kind.status: status, kind.lease_expires_at: None, **values})
            .returning(kind.id)
            .execution_options(synchronize_session=False)
        )

    shape = ("finish", status)
    statement, parameters, names = _parametrized(kind, shape, build, row_id, values or {})

    def write() -> bool:
        if autocommit:
            ours = _run_autocommit(kind, names, statement, parameters).row is not None
        else:
            ours = db.session.execute(statement, parameters).first() is not None
        if ours and then is not None:
            then()
        return ours

    return execute_durably(write, autocommit)


@dataclass(frozen=True)
class Failure:
    status: str | None  # the row's new status; None when the row was no longer ours
    retry_in: float | None  # seconds until the retry, when there is one
    error: str


def fail(
    kind: Kind,
    row_id: int,
    attempts: int,
    error: BaseException,
    values=None,
    *,
    autocommit: bool = False,
    policy: RetryPolicy | None = None,
    message: str | None = None,
    age: float | None = None,
) -> Failure:
    """Record a failed attempt: back to pending with a delay, or failed for good, as the policy
    (the kind's, unless given) decides from the attempts and the row's `age` (seconds since it
    was created, for a policy with a time budget); the retry is scheduled here. `message`
    replaces the stored `Class: error` text where people read it."""
    policy = policy or kind.policy()
    delay = policy.retry_delay(attempts, error, age)
    message = _failure_text(policy, error, message or describe(error), final=delay is None)
    changes = {kind.error: message, **(values or {})}
    if kind.traceback is not None:
        changes[kind.traceback] = traceback_of(error)
    if delay is None:
        status = kind.failed
    else:
        status, retry_at = kind.retrying, now_utc() + timedelta(seconds=delay)
        changes.update({kind.due_at: retry_at, **kind.on_requeue(retry_at)})
    if not finish(kind, row_id, status, changes, autocommit=autocommit):
        return Failure(None, None, message)
    if delay is not None:
        kind.task.schedule((row_id,), delay=delay)
    return Failure(status, delay, message)


def _failure_text(policy: RetryPolicy, error: BaseException, message: str, final: bool) -> str:
    """The stored error; a final one says when it is final because the time budget ran out."""
    reason = policy.final_reason(error) if final else None
    return (f"{reason}: {message}" if reason else message)[:ERROR_LIMIT]


def execute_durably(write, autocommit: bool = False):
    """Run `write()` and commit the session (unless `write` runs in autocommit);
    while the database is unreachable, run it again with backoff (up to OUTCOME_RETRY_FOR
    seconds) in this same worker, on a fresh connection. The caller has committed its own
    changes first: a retry writes only what `write` writes.

    The row stays ours meanwhile: the sweep takes back only a row whose lease has expired, and
    the outcome's UPDATE asks for the active status, not an unexpired lease. A new connection
    keeps trying while the server is down (saas.database.wait_for_connections), so the write
    lands within a second of the database answering again, before any lease that was still
    running when it went down can expire."""
    deadline = time.monotonic() + current_app.config["OUTCOME_RETRY_FOR"]
    pause = 0.1
    while True:
        try:
            result = write()
            if not autocommit:
                db.session.commit()
            return result
        except DBAPIError as error:
            if not database_unavailable(error) or time.monotonic() + pause > deadline:
                raise
            db.session.rollback()
            log.warning(
                "Database unreachable (%s); writing the outcome again", type(error).__name__
            )
            with worker_turns.while_waiting():
                time.sleep(pause)
            pause = min(pause * 2, 1.0)


@dataclass(frozen=True)
class Written:
    row: Any  # the RETURNING row (attribute access by column key), or None
    rowcount: int


@dataclass(frozen=True)
class DriverStatement:
    """A statement compiled once for a dialect, run on the driver's cursor with the same type
    processing: SQLAlchemy's execution of a cached statement (parameter and result processing,
    events, result objects) cost more CPU than the round trip, about 0.35 ms of the worker's
    1.9 ms per email on PostgreSQL. Columns with an `onupdate` default get it, as in SQLAlchemy."""

    sql: str
    positional: tuple[str, ...] | None  # the parameters' order, for a "?" paramstyle
    constants: dict[str, Any]  # the statement's own values (the states), processed
    processors: dict[str, Callable]  # for the values given per call
    on_update: tuple[tuple[str, Callable[[], Any]], ...]
    row: Any  # a namedtuple class for the RETURNING columns, or None
    results: tuple[Callable | None, ...]

    @classmethod
    def compile(cls, statement, dialect: Dialect) -> "DriverStatement":
        compiled = statement.compile(dialect=dialect)
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise ValueError("an expanding parameter (IN with a list) only SQLAlchemy runs")
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        processors = {}
        for name, bind in binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        on_update = tuple((column.key, _default_of(column)) for column in compiled.update_prefetch)
        if not dict(on_update).keys() <= binds.keys():
            raise ValueError("an onupdate default is bound under another name than its column's")
        given = {name for name, bind in binds.items() if bind.required} | dict(on_update).keys()
        constants = {
            name: processors[name](value) if name in processors else value
            for name, value in compiled.params.items()
            if name not in given
        }
        columns = list(statement.exported_columns)
        return cls(
            sql=compiled.string,
            positional=tuple(compiled.positiontup) if compiled.positional else None,
            constants=constants,
            processors=processors,
            on_update=on_update,
            row=namedtuple("Row", [c.key for c in columns], rename=True) if columns else None,
            results=tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in columns
            ),
        )

    def run(self, cursor, parameters: dict) -> Written:
        values = dict(self.constants)
        given = [*parameters.items(), *((name, default()) for name, default in self.on_update)]
        for name, value in given:
            processor = self.processors.get(name)
            values[name] = value if processor is None else processor(value)
        if self.positional is not None:
            values = tuple(values[name] for name in self.positional)
        cursor.execute(self.sql, values)
        if self.row is None:
            return Written(None, cursor.rowcount)
        found = cursor.fetchone()
        if found is None:
            return Written(None, 0)
        processed = (v if p is None else p(v) for p, v in zip(self.results, found, strict=True))
        return Written(self.row(*processed), 1)


def _default_of(column) -> Callable[[], Any]:
    default = column.onupdate
    if default.is_scalar:
        return lambda: default.arg
    if default.is_callable:
        return lambda: default.arg(None)  # SQLAlchemy wraps a no-argument callable this way
    raise ValueError(f"{column.key}'s onupdate is SQL: it cannot be computed before the statement")


def _run_autocommit(kind: Kind, names: tuple | None, statement, parameters: dict) -> Written:
    dialect = db.engine.dialect
    key = (dialect.name, *names) if names is not None else None
    prepared = kind.compiled.get(key) if key is not None else None
    if prepared is None:
        with _BUILDING:
            prepared = kind.compiled.get(key) if key is not None else None
            if prepared is None:
                prepared = DriverStatement.compile(statement, dialect)
                if key is not None:
                    kind.compiled[key] = prepared
    with autocommit_cursor() as cursor:
        return prepared.run(cursor, parameters)


@contextmanager
def autocommit_cursor() -> Iterator[Any]:
    """The driver's cursor on a pooled connection on which each statement is its own
    transaction, for one transition. A driver error comes out as SQLAlchemy's (DBAPIError),
    and its connection is never pooled again: its session state is unknown.

    On SQLite these commits skip the fsync (synchronous=NORMAL in WAL mode: durable when the
    process dies, not when the machine loses power): a transition rolled back by a power loss
    leaves the row pending or active, so its work is done again (an email sent twice), never
    lost, and the writers' lock is held for a fraction of the time. The rows themselves were
    inserted by sessions, which keep FULL."""
    # The pool's connection itself, without a Connection object around it: its transaction
    # state and events are unused here, and cost CPU on both transitions of every email.
    dialect = db.engine.dialect
    try:
        pooled = db.engine.raw_connection()
    except dialect.loaded_dbapi.Error as error:  # engine.connect() would wrap it so
        raise _sqlalchemy_error(error, dialect, dialect.is_disconnect(error, None, None)) from error
    driver = pooled.dbapi_connection
    pooled_back = False
    try:
        dialect.set_isolation_level(driver, "AUTOCOMMIT")
        cursor = driver.cursor()
        try:
            if dialect.name == "sqlite":
                cursor.execute("PRAGMA synchronous=NORMAL")
            yield cursor
        finally:
            cursor.close()
    except dialect.loaded_dbapi.Error as error:
        disconnected = dialect.is_disconnect(error, driver, None)
        pooled.invalidate(error)  # closes it and returns its slot to the pool
        pooled_back = True
        raise _sqlalchemy_error(error, dialect, disconnected) from error
    finally:
        if not pooled_back:
            _pool_back_as_found(pooled, dialect, driver)


def _sqlalchemy_error(error, dialect: Dialect, disconnected: bool) -> DBAPIError:
    return DBAPIError.instance(
        None,
        None,
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=disconnected,
        dialect=dialect,
    )


def _pool_back_as_found(pooled, dialect: Dialect, driver) -> None:
    """Transactions and FULL sync again, or the connection is not pooled again."""
    try:
        if dialect.name == "sqlite":
            driver.execute("PRAGMA synchronous=FULL")
        dialect.reset_isolation_level(driver)
    except dialect.loaded_dbapi.Error as error:
        pooled.invalidate(error)
    else:
        pooled.close()


def sweep(kind: Kind) -> dict[str, int]:
    """Re-enqueue rows whose task vanished; take back rows whose worker vanished (lease expired):
    back to pending, or failed when they used up their attempts. The caller commits, then the
    tasks go out."""
    requeued = _requeue_lost(kind)
    reclaimed, failed = _reclaim_expired(kind)
    for row_id in [*requeued, *reclaimed]:
        enqueue(kind, row_id)
    return {"requeued": len(requeued), "reclaimed": len(reclaimed), "failed": failed}


def _ids(kind: Kind, *conditions):
    return db.select(kind.id).where(*conditions).order_by(kind.id).limit(SWEEP_BATCH)


def _update_returning_ids(kind: Kind, ids_query, values: dict, *recheck) -> list[int]:
    # The conditions are checked again in the UPDATE: a worker may have moved the row meanwhile.
    return list(
        db.session.execute(
            db.update(kind.model)
            .where(kind.id.in_(ids_query.scalar_subquery()), *recheck)
            .values(values)
            .returning(kind.id)
            .execution_options(synchronize_session=False)
        ).scalars()
    )


def _requeue_lost(kind: Kind) -> list[int]:
    now = now_utc()
    cutoff = now - timedelta(seconds=kind.grace())
    lost = (kind.status.in_(kind.pending), kind.due_at.is_(None) | (kind.due_at < cutoff))
    return _update_returning_ids(kind, _ids(kind, *lost), {kind.due_at: now}, *lost)


def _reclaim_expired(kind: Kind) -> tuple[list[int], int]:
    now = now_utc()
    expired = (kind.status == kind.active, kind.lease_expires_at < now)
    policy = kind.policy()
    exhausted = _exhausted(kind, policy, now)
    lost_worker = "the worker was lost during this attempt (its lease expired)"
    reset = {kind.lease_expires_at: None, kind.error: lost_worker}
    given_up = {**reset, kind.status: kind.failed}
    given_up[kind.error] = _failure_text(policy, TransientError(), lost_worker, final=True)
    failed = _update_returning_ids(kind, _ids(kind, *expired, exhausted), given_up, *expired)
    back = {kind.status: kind.retrying, kind.due_at: now, **kind.on_requeue(now), **reset}
    reclaimed = _update_returning_ids(kind, _ids(kind, *expired, ~exhausted), back, *expired)
    return reclaimed, len(failed)


def _exhausted(kind: Kind, policy: RetryPolicy, now: datetime):
    """RetryPolicy.exhausted as SQL: past the quick tries and, when the policy has a time budget
    and the kind a creation column, created longer ago than the budget."""
    condition = kind.attempts > policy.retries
    if policy.retry_for is not None and kind.born is not None:
        condition = condition & (kind.born <= now - timedelta(seconds=policy.retry_for))
    return condition


def sweep_all(kinds=None) -> dict[str, dict[str, int]]:
    """Sweep every registered kind (each commits on its own; one failing does not stop the rest)."""
    counts = {}
    for kind in kinds or list(KINDS.values()):
        try:
            counts[kind.name] = sweep(kind)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("Sweeping %s failed; the next sweep tries again", kind.name)
    return counts
