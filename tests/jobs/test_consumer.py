"""The real huey_consumer process, started with the Procfile's worker command."""

import signal
import time

from saas.auth.models import User
from saas.extensions import db
from saas.jobs.models import Heartbeat
from tests.support.accounts import make_user as make_account
from tests.support.probe_tasks import describe_user


def make_user(app, email="worker@example.com") -> int:
    with app.app_context():
        user = User(email=email, password_hash="x")
        db.session.add(user)
        db.session.commit()
        return user.id


def wait_until(predicate, timeout=20.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def test_consumer_runs_a_task_that_reads_the_database_and_config(app, app_env, start_worker):
    user_id = make_user(app)
    start_worker()
    result = describe_user(user_id)
    assert result.get(blocking=True, timeout=30) == {
        "email": "worker@example.com",
        "queue": app_env["QUEUE_NAME"],
    }


def busy_with(app, task: str) -> bool:
    """Whether a worker's last heartbeat says one of its threads runs `task`."""
    with app.app_context():
        beats = db.session.execute(db.select(Heartbeat.running)).scalars().all()
        return any(entry["task"] == task for running in beats for entry in running or [])


def test_sigterm_lets_the_running_task_finish(app, start_worker):
    user_id = make_user(app)
    worker = start_worker(HEARTBEAT_INTERVAL="0.2")
    result = describe_user(user_id, pause=2.0)
    assert wait_until(lambda: busy_with(app, "describe_user"))
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    assert result.get(blocking=True, timeout=5)["email"] == "worker@example.com"


def test_reset_email_delivered_by_the_real_worker(auth, sign_up, mailbox, start_worker, client):
    sign_up()
    auth.logout()
    start_worker()
    auth.post("/password/reset", {"email": "customer@example.com"}, token_from="/password/reset")
    [message] = mailbox.wait_for(1, timeout=30)
    body = message.get_body(preferencelist=("plain",)).get_content()
    path = next(line for line in body.splitlines() if "/password/reset/" in line)
    path = path.strip().removeprefix("http://localhost")
    assert client.get(path).status_code == 200
    response = auth.post(path, {"password": "a fresh new password"}, token_from=path)
    assert response.headers["Location"] == "/login"
    assert auth.login(password="a fresh new password").status_code == 303


def test_the_console_shows_what_each_worker_thread_runs(app, auth, start_worker):
    """The worker's heartbeat carries its busy threads, whatever kind of task they run."""
    user_id = make_user(app)
    make_account(app, "root@example.com", role="admin")
    auth.login("root@example.com", "customer-password")
    start_worker(HEARTBEAT_INTERVAL="0.3")
    result = describe_user(user_id, pause=6.0)

    def workers_card() -> str:
        page = auth.client.get("/admin/?part=live").get_data(as_text=True)
        return page.split('data-testid="workers"')[1].split("</div>")[0]

    busy = f"runs <code>describe_user({user_id}, pause=6.0)</code> since"
    assert wait_until(lambda: busy in workers_card()), workers_card()
    assert "1 thread busy at that beat" in workers_card()
    assert result.get(blocking=True, timeout=30)["email"] == "worker@example.com"
    assert wait_until(lambda: "every thread idle at that beat" in workers_card(), timeout=10)
