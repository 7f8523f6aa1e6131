from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from saas import create_app
from saas.database import now_utc
from saas.extensions import db, huey
from saas.jobs import heartbeat
from saas.mail.models import OutboundEmail


@pytest.mark.parametrize("path", ["/", "/pricing", "/terms", "/privacy", "/login", "/signup"])
def test_public_pages_render(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "/static/css/app.css" in response.get_data(as_text=True)


def test_not_found_page(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "<html" in response.get_data(as_text=True)


def test_not_found_as_json_for_json_clients(client):
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"] == "Not Found"


def test_server_error_page_rolls_back(app, client):
    @app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/boom")
    assert response.status_code == 500
    assert "boom" not in response.get_data(as_text=True)


def test_health_is_degraded_without_a_scheduler_or_a_worker(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded"
    assert (body["database"]["status"], body["queue"]["status"]) == ("ok", "ok")
    assert body["schedulers"] == {"status": "down", "alive": 0, "processes": []}
    assert body["workers"]["status"] == "down"
    assert body["mail"] == {"status": "ok", "retrying": 0, "last_sent_at": None}


def beat_both(app) -> None:
    with app.app_context():
        heartbeat.beat("scheduler", "host-a:1")
        heartbeat.beat("worker", "host-b:2")
        heartbeat.beat("worker", "host-b:2")  # a second beat updates, never duplicates
        db.session.commit()


def test_health_lists_live_scheduler_and_worker_heartbeats(app, client):
    beat_both(app)
    body = client.get("/health").get_json()
    assert body["status"] == "ok"
    assert body["schedulers"]["alive"] == 1
    assert body["schedulers"]["status"] == "ok"
    assert [p["name"] for p in body["workers"]["processes"]] == ["host-b:2"]


def add_email(app, status: str, **values) -> None:
    with app.app_context():
        row = OutboundEmail(to_address="a@saas.test", template="t", context={}, status=status)
        for name, value in values.items():
            setattr(row, name, value)
        db.session.add(row)
        db.session.commit()


def test_health_mail_is_degraded_while_emails_retry_and_none_goes_out(app, client):
    beat_both(app)
    old = now_utc() - timedelta(hours=1)
    add_email(app, "sent", sent_at=old)
    add_email(app, "retrying", last_error="ConnectionRefusedError: [Errno 111]")
    body = client.get("/health").get_json()
    assert (body["status"], body["mail"]["status"], body["mail"]["retrying"]) == (
        "degraded",
        "degraded",
        1,
    )
    assert body["mail"]["last_error"].startswith("ConnectionRefusedError")
    add_email(app, "sent", sent_at=now_utc())  # one went out just now: the transport works
    body = client.get("/health").get_json()
    assert (body["status"], body["mail"]["status"]) == ("ok", "ok")


def test_health_is_503_when_the_database_is_down(app_env, monkeypatch):
    url = make_url(app_env["DATABASE_URL"])
    broken = (
        "sqlite:////nonexistent-dir/x.db"
        if url.drivername.startswith("sqlite")
        else url.set(port=1).render_as_string(hide_password=False)
    )
    monkeypatch.setenv("DATABASE_URL", broken)
    response = create_app({"TESTING": True}).test_client().get("/health")
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    body = response.get_json()
    assert (body["status"], body["database"]["status"], body["queue"]["status"]) == (
        "down",
        "down",
        "ok",
    )
    assert body["workers"] == {"status": "unknown"}


def test_health_is_degraded_not_503_when_the_queue_is_down(app, app_env, monkeypatch):
    beat_both(app)
    if app_env["REDIS_URL"]:
        monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
        app = create_app({"TESTING": True})
    else:
        huey.storage.close()
        queue_file = Path(app.config["HUEY_SQLITE_PATH"])
        queue_file.unlink()
        queue_file.mkdir()  # a queue file that cannot be opened
    response = app.test_client().get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["queue"]["status"], body["database"]["status"]) == (
        "degraded",
        "down",
        "ok",
    )
