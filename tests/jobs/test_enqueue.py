"""Enqueue after commit, on the real database and queue: savepoints, rollbacks, IdOf, a failing
enqueue after the commit, and the Huey used before it is bound to an app."""

import contextlib
import logging
import threading

import pytest
from sqlalchemy.exc import IntegrityError

from saas.auth.models import User
from saas.extensions import db, huey
from saas.flask_huey import FlaskHuey
from saas.jobs.enqueue import IdOf, enqueue_after_commit
from tests.support.round_trips import counting_round_trips


@huey.task()
def note(label) -> None:
    """A task these tests queue and never run: the queue holds what went out."""


def queued() -> list:
    return sorted(task.args[0] for task in huey.pending())


def add_user(email: str) -> User:
    user = User(email=email, password_hash="x")
    db.session.add(user)
    return user


def stored(*emails: str) -> list[str]:
    query = db.select(User.email).where(User.email.in_(emails)).order_by(User.email)
    return list(db.session.execute(query).scalars())


def test_a_rolled_back_savepoint_drops_its_tasks_and_the_outer_ones_go_out_at_commit(app):
    with app.app_context():
        add_user("outer@example.com")
        enqueue_after_commit(note, "outer, before")
        savepoint = db.session.begin_nested()
        add_user("inner@example.com")
        enqueue_after_commit(note, "inner")
        savepoint.rollback()
        enqueue_after_commit(note, "outer, after")
        assert queued() == []
        db.session.commit()
        assert queued() == ["outer, after", "outer, before"]
        assert stored("outer@example.com", "inner@example.com") == ["outer@example.com"]


def test_a_failed_insert_in_a_savepoint_drops_only_that_savepoints_tasks(app):
    with app.app_context():
        add_user("taken@example.com")
        db.session.commit()
        add_user("new@example.com")
        enqueue_after_commit(note, "welcome new")
        with contextlib.suppress(IntegrityError), db.session.begin_nested():
            add_user("taken@example.com")
            enqueue_after_commit(note, "welcome taken again")
            db.session.flush()
        db.session.commit()
        assert queued() == ["welcome new"]
        assert stored("new@example.com") == ["new@example.com"]


def test_a_released_savepoints_tasks_wait_for_the_outer_commit(app):
    with app.app_context():
        add_user("outer@example.com")
        with db.session.begin_nested():
            enqueue_after_commit(note, "released")
            with db.session.begin_nested():
                enqueue_after_commit(note, "released, inner")
        assert queued() == []
        db.session.commit()
        assert queued() == ["released", "released, inner"]


def test_a_savepoint_released_inside_a_rolled_back_one_goes_with_it(app):
    with app.app_context():
        add_user("outer@example.com")
        enqueue_after_commit(note, "outer")
        savepoint = db.session.begin_nested()
        with db.session.begin_nested():
            enqueue_after_commit(note, "released into the rolled-back savepoint")
        savepoint.rollback()
        db.session.commit()
        assert queued() == ["outer"]


def test_a_full_rollback_drops_every_task(app):
    with app.app_context():
        add_user("gone@example.com")
        enqueue_after_commit(note, "outer")
        with db.session.begin_nested():
            enqueue_after_commit(note, "released")
        db.session.begin_nested()
        enqueue_after_commit(note, "in an open savepoint")
        db.session.rollback()
        add_user("next@example.com")
        db.session.commit()  # the next transaction sends nothing left over from the last
        assert queued() == []
        assert stored("gone@example.com", "next@example.com") == ["next@example.com"]


def test_id_of_is_the_primary_key_the_commit_gives_the_row(app):
    with app.app_context():
        user = add_user("idof@example.com")
        enqueue_after_commit(note, IdOf(user))
        assert user.id is None  # queueing the task needed no flush
        db.session.commit()
        assert queued() == [user.id]
        assert stored("idof@example.com") == ["idof@example.com"]


def test_an_enqueue_failing_after_commit_is_logged_once_and_the_rest_go_out(app, caplog):
    with app.app_context():
        add_user("committed@example.com")
        enqueue_after_commit(note, "first")
        enqueue_after_commit(note, threading.Lock())  # cannot be serialized: its enqueue raises
        enqueue_after_commit(note, "last")
        db.session.commit()
        assert queued() == ["first", "last"]
        assert stored("committed@example.com") == ["committed@example.com"]
    [record] = [record for record in caplog.records if record.name == "saas.jobs.enqueue"]
    assert record.levelno == logging.ERROR
    assert "tests.jobs.test_enqueue.note" in record.getMessage()
    assert "cannot pickle" in str(record.exc_info[1])


def test_enqueueing_before_init_app_raises():
    unbound = FlaskHuey()

    @unbound.task()
    def task() -> None:
        """Never queued: the Huey has no app, hence no storage."""

    with pytest.raises(RuntimeError, match=r"not bound to an app: call huey.init_app\(app\)"):
        task()
    with pytest.raises(RuntimeError, match="not bound to an app"):
        unbound.pending_count()
    assert unbound.is_reachable() is False


def test_the_tasks_of_one_commit_go_out_in_one_round_trip(app, monkeypatch):
    with app.app_context():
        enqueue_after_commit(note, "warm")  # opens the queue's connection
        db.session.commit()
        for label in ("a", "b", "c"):
            enqueue_after_commit(note, label)
        with counting_round_trips(db.engine, monkeypatch) as trips:
            db.session.commit()
        assert queued() == ["a", "b", "c", "warm"]
    assert len(trips.redis) == (1 if app.config["REDIS_URL"] else 0), trips.redis
