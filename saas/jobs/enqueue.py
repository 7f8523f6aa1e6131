"""Enqueue after commit: a task must never run before the rows it reads exist.

Pending tasks are kept per savepoint (None: outside any savepoint), so a rolled-back savepoint
drops only its own tasks; a released one hands them to the level around it, and they go out
when the outermost transaction commits."""

import logging
import sqlite3

import redis
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from saas.extensions import db, huey
from saas.jobs.outage import Outage

log = logging.getLogger(__name__)
# The queue's storage is down (Redis) or busy (Huey's SQLite file), as opposed to a task that
# cannot be queued at all (its arguments do not pickle).
QUEUE_UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, sqlite3.OperationalError, OSError)
# Shared by every thread of the process: one ERROR when enqueues start failing, one INFO when one
# goes through again.
QUEUE_OUTAGE = Outage("Enqueueing after commit (tasks are left to the sweeps)", log, base=0, cap=0)

_PENDING = (
    "saas.enqueue_after_commit"  # session.info key: {savepoint or None: [(task, args, kwargs)]}
)


class IdOf:
    """A task argument standing for the primary key `row` gets when the session flushes it,
    so adding a row and queueing its task needs no flush of its own: the commit inserts every
    new row in one batch."""

    __slots__ = ("row", "value")

    def __init__(self, row):
        self.row, self.value = row, None


def enqueue_after_commit(task, *args, **kwargs) -> None:
    """Queue `task(*args, **kwargs)` once the outermost transaction commits; drop it if the
    transaction, or the savepoint it was queued in, rolls back."""
    session = db.session()
    pending = session.info.setdefault(_PENDING, {})
    pending.setdefault(session.get_nested_transaction(), []).append((task, args, kwargs))


def _enclosing_savepoint(transaction: SessionTransaction) -> SessionTransaction | None:
    parent = transaction.parent
    while parent is not None and not parent.nested:
        parent = parent.parent
    return parent


@event.listens_for(Session, "after_flush_postexec")
def _resolve_ids(session: Session, flush_context) -> None:
    for tasks in session.info.get(_PENDING, {}).values():
        for _task, args, _kwargs in tasks:
            for arg in args:
                if isinstance(arg, IdOf) and arg.value is None:
                    arg.value = arg.row.id  # fresh after the flush: reading it costs no query


@event.listens_for(Session, "after_commit")
def _enqueue_pending(session: Session) -> None:
    savepoint = session.get_nested_transaction()
    if savepoint is not None:  # a savepoint was released: its tasks wait for the outer commit
        pending = session.info.get(_PENDING, {})
        if savepoint in pending:
            released = pending.pop(savepoint)
            pending.setdefault(_enclosing_savepoint(savepoint), []).extend(released)
        return
    calls = [call for tasks in session.info.pop(_PENDING, {}).values() for call in tasks]
    if calls:
        _enqueue_all(calls)


def _enqueue_all(calls: list[tuple]) -> None:
    """Every task of a commit at once (one round trip on Redis, one transaction on SQLite); if one
    of them can't be serialized, one by one, so that it loses only itself."""
    if len(calls) < 2 or not huey.can_enqueue_many():
        for task, args, kwargs in calls:
            _enqueue(task, args, kwargs)
        return
    try:
        huey.enqueue_many([task.s(*_resolved(args), **kwargs) for task, args, kwargs in calls])
    except QUEUE_UNREACHABLE as error:
        log.debug("Could not enqueue %s tasks after commit; the sweeps will", len(calls))
        QUEUE_OUTAGE.failed(error)
    except Exception:
        for task, args, kwargs in calls:
            _enqueue(task, args, kwargs)
    else:
        QUEUE_OUTAGE.recovered()


def _resolved(args: tuple) -> tuple:
    return tuple(arg.value if isinstance(arg, IdOf) else arg for arg in args)


def _enqueue(task, args: tuple, kwargs: dict) -> None:
    # The transaction is committed: raising would tell the caller it was not, and keep the
    # other tasks back. The sweeps re-enqueue work whose task was lost, so log and go on; a
    # queue that is down is logged once per outage, not once per task.
    try:
        task(*_resolved(args), **kwargs)
    except QUEUE_UNREACHABLE as error:
        log.debug("Could not enqueue %s after commit; a sweep will", _task_name(task))
        QUEUE_OUTAGE.failed(error)
    except Exception:
        log.exception("Could not enqueue %s after commit; a sweep will", _task_name(task))
    else:
        QUEUE_OUTAGE.recovered()


def _task_name(task) -> str:
    function = getattr(task, "func", task)  # a Huey task wraps its function
    return f"{function.__module__}.{function.__qualname__}"


@event.listens_for(Session, "after_transaction_end")
def _drop_rolled_back(session: Session, transaction: SessionTransaction) -> None:
    # A commit has already sent or handed on the transaction's tasks (after_commit runs first);
    # whatever is left belongs to a rollback.
    if transaction.nested:
        session.info.get(_PENDING, {}).pop(transaction, None)
    elif transaction.parent is None:
        session.info.pop(_PENDING, None)
