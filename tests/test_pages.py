from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from saas import create_app
from saas.extensions import db, huey
from saas.jobs import heartbeat


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


def test_health_reports_database_and_queue(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["database"], body["queue"]) == ("ok", "ok", "ok")
    assert body["schedulers"] == {"status": "none seen", "alive": 0, "processes": []}


def test_health_lists_live_scheduler_and_worker_heartbeats(app, client):
    with app.app_context():
        heartbeat.beat("scheduler", "host-a:1")
        heartbeat.beat("worker", "host-b:2")
        heartbeat.beat("worker", "host-b:2")  # a second beat updates, never duplicates
        db.session.commit()
    body = client.get("/health").get_json()
    assert body["schedulers"]["alive"] == 1
    assert [p["name"] for p in body["workers"]["processes"]] == ["host-b:2"]


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
    assert response.get_json()["database"] == "unreachable"
    assert response.get_json()["queue"] == "ok"


def test_health_is_503_when_the_queue_is_down(app_env, monkeypatch):
    if app_env["REDIS_URL"]:
        monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
        app = create_app({"TESTING": True})
    else:
        app = create_app({"TESTING": True})
        huey.storage.close()
        queue_file = Path(app.config["HUEY_SQLITE_PATH"])
        queue_file.unlink()
        queue_file.mkdir()  # a queue file that cannot be opened
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json()["queue"] == "unreachable"
    assert response.get_json()["database"] == "ok"
