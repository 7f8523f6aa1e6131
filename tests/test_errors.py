"""An unreachable database is waited for a bounded time, then answered 503 with Retry-After,
never 500; a view whose connection dropped before it committed runs again. On a PostgreSQL
cluster of the test's own (or a port nothing listens on), whatever the pass's backend."""

import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from saas import create_app
from saas.config import database_uri
from saas.contact.models import ContactMessage
from saas.contact.services import store_message
from saas.extensions import db
from tests.support.auth import AuthActions
from tests.support.private_postgres import PrivatePostgres
from tests.support.smtp import free_port

FORM = {"name": "Ada Lovelace", "email": "ada@example.com", "message": "Hello there"}


@pytest.fixture(scope="module")
def cluster():
    with PrivatePostgres() as server:
        server.start()
        server.create_database("saas_errors")
        yield server


def app_on(url: str, tmp_path, **config):
    uri = database_uri(url, tmp_path)
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri, **config})


@pytest.fixture
def private_app(app_env, cluster, tmp_path):
    app = app_on(cluster.url("saas_errors"), tmp_path, DB_WAIT=10)
    yield app
    with app.app_context():
        db.session.execute(db.delete(ContactMessage))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def unreachable_app(app_env, tmp_path):
    """The database is a port of 127.0.0.1 nothing listens on; requests wait 0.3 s for it."""
    app = app_on(f"postgresql://postgres@127.0.0.1:{free_port()}/none", tmp_path, DB_WAIT=0.3)
    yield app
    with app.app_context():
        db.engine.dispose()


def stored(app) -> list[ContactMessage]:
    with app.app_context():
        return db.session.execute(db.select(ContactMessage)).scalars().all()


def test_an_unreachable_database_is_waited_for_then_answered_503_with_retry_after(
    unreachable_app,
):
    visitor = AuthActions(unreachable_app.test_client())
    began = time.monotonic()
    response = visitor.post("/contact", FORM, token_from="/contact")
    assert time.monotonic() - began >= 0.3  # it waited DB_WAIT before giving up
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    page = response.get_data(as_text=True)
    assert "Back in a moment" in page
    assert "The database is restarting" in page


def test_in_a_long_outage_only_the_first_wait_is_long(app_env, tmp_path):
    """Connections wait DB_WAIT from the outage's first failed try, not each that long again."""
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/none"
    app = app_on(url, tmp_path, DB_WAIT=1.0)
    with app.app_context():
        assert seconds_to_fail() >= 1.0
        assert seconds_to_fail() < 0.5
        db.engine.dispose()


def seconds_to_fail() -> float:
    began = time.monotonic()
    with pytest.raises(OperationalError):
        db.session.execute(text("SELECT 1"))
    db.session.rollback()
    return time.monotonic() - began


def test_clients_that_ask_for_json_get_the_503_as_json(unreachable_app):
    visitor = AuthActions(unreachable_app.test_client())
    headers = {"Accept": "application/json"}
    response = visitor.post("/contact", FORM, token_from="/contact", headers=headers)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.get_json()["error"] == "Service Unavailable"
    assert "try again in a moment" in response.get_json()["message"]


def test_a_wrong_statement_is_still_a_500_not_a_503(app_env):
    app = create_app({"TESTING": True, "PROPAGATE_EXCEPTIONS": False})
    app.add_url_rule("/broken", view_func=lambda: str(db.session.execute(text("SELECT nope"))))
    response = app.test_client().get("/broken")
    assert response.status_code == 500
    assert "Retry-After" not in response.headers
    with app.app_context():
        db.engine.dispose()


def test_a_form_posted_while_the_database_restarts_waits_and_is_stored(private_app, cluster):
    visitor = AuthActions(private_app.test_client())
    token = visitor.csrf_token("/contact")
    cluster.stop("fast")
    comes_back = threading.Timer(1.0, cluster.start)
    comes_back.start()
    began = time.monotonic()
    response = visitor.client.post("/contact", data={**FORM, "csrf_token": token})
    comes_back.join()
    assert response.status_code == 303
    assert time.monotonic() - began >= 1.0
    assert [message.email for message in stored(private_app)] == ["ada@example.com"]


def test_a_view_whose_connection_drops_before_commit_runs_again(private_app):
    runs = []

    def view():
        runs.append(len(runs))
        if len(runs) == 1:  # the server ends this session, as a restart does
            db.session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        store_message(
            name="Ada", email="ada@example.com", message="Hi", user_id=None, ip_address=None
        )
        db.session.commit()
        return "stored"

    private_app.add_url_rule("/drops-once", view_func=view)
    response = private_app.test_client().get("/drops-once")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "stored")
    assert runs == [0, 1]
    assert len(stored(private_app)) == 1
