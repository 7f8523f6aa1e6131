"""Enqueue after commit: a task must never run before the rows it reads exist."""

from sqlalchemy import event
from sqlalchemy.orm import Session

from saas.extensions import db

_PENDING = "saas.enqueue_after_commit"


class IdOf:
    """A task argument standing for the primary key `row` gets when the session flushes it,
    so adding a row and queueing its task needs no flush of its own: the commit inserts every
    new row in one batch."""

    __slots__ = ("row", "value")

    def __init__(self, row):
        self.row, self.value = row, None


def enqueue_after_commit(task, *args, **kwargs) -> None:
    """Queue `task(*args, **kwargs)` once the current transaction commits; drop it on rollback."""
    db.session.info.setdefault(_PENDING, []).append((task, args, kwargs))


@event.listens_for(Session, "after_flush_postexec")
def _resolve_ids(session: Session, flush_context) -> None:
    for _task, args, _kwargs in session.info.get(_PENDING, []):
        for arg in args:
            if isinstance(arg, IdOf) and arg.value is None:
                arg.value = arg.row.id  # fresh after the flush: reading it costs no query


@event.listens_for(Session, "after_commit")
def _enqueue_pending(session: Session) -> None:
    for task, args, kwargs in session.info.pop(_PENDING, []):
        task(*(arg.value if isinstance(arg, IdOf) else arg for arg in args), **kwargs)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction) -> None:
    session.info.pop(_PENDING, None)
