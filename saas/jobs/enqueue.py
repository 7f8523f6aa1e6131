"""Enqueue after commit: a task must never run before the rows it reads exist."""

from sqlalchemy import event
from sqlalchemy.orm import Session

from saas.extensions import db

_PENDING = "saas.enqueue_after_commit"


def enqueue_after_commit(task, *args, **kwargs) -> None:
    """Queue `task(*args, **kwargs)` once the current transaction commits; drop it on rollback."""
    db.session.info.setdefault(_PENDING, []).append((task, args, kwargs))


@event.listens_for(Session, "after_commit")
def _enqueue_pending(session: Session) -> None:
    for task, args, kwargs in session.info.pop(_PENDING, []):
        task(*args, **kwargs)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction) -> None:
    session.info.pop(_PENDING, None)
