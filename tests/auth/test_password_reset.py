import re
import time
from pathlib import Path

import pytest

from saas.auth.models import User
from saas.extensions import db, huey
from tests.support.smtp import text_body

OLD_PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new password"


def reset_link_from(message) -> str:
    return re.search(r"^http://localhost(/password/reset/\S+)$", text_body(message), re.M).group(1)


def request_reset(auth, email="customer@example.com"):
    return auth.post("/password/reset", {"email": email}, token_from="/password/reset")


@pytest.fixture
def reset_path(auth, sign_up, mailbox, run_queued_tasks):
    sign_up()
    auth.logout()
    response = request_reset(auth, email="Customer@Example.com")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert run_queued_tasks() == 1
    [message] = mailbox.wait_for(1)
    assert message["To"] == "customer@example.com"
    assert message["Subject"] == "Reset your SaaS password"
    return reset_link_from(message)


def set_password(auth, path, password=NEW_PASSWORD):
    return auth.post(path, {"password": password}, token_from=path)


def test_reset_link_sets_a_new_password_once(auth, client, reset_path, mailbox, run_queued_tasks):
    assert client.get(reset_path).status_code == 200
    response = set_password(auth, reset_path)
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert auth.login(password=OLD_PASSWORD).status_code == 400
    assert auth.login(password=NEW_PASSWORD).status_code == 303
    auth.logout()

    reused = client.get(reset_path)
    assert reused.status_code == 303
    assert reused.headers["Location"] == "/password/reset"
    assert set_password(auth, reset_path, "yet another password").status_code == 303
    assert auth.login(password="yet another password").status_code == 400

    run_queued_tasks()
    subjects = [m["Subject"] for m in mailbox.wait_for(2)]
    assert subjects == ["Reset your SaaS password", "Your SaaS password was changed"]


def test_reset_link_is_void_after_any_password_change(auth, client, reset_path, app):
    with app.app_context():
        user = db.session.execute(db.select(User)).scalar_one()
        user.set_password("changed elsewhere!")
        db.session.commit()
    assert client.get(reset_path).headers["Location"] == "/password/reset"


@pytest.mark.app_config(PASSWORD_RESET_MAX_AGE=1)
def test_reset_link_expires(client, reset_path):
    time.sleep(2.1)
    response = client.get(reset_path)
    assert response.status_code == 303
    assert response.headers["Location"] == "/password/reset"


def test_forged_token_is_refused(auth, client):
    auth.signup()
    assert client.get("/password/reset/not-a-token").headers["Location"] == "/password/reset"


def test_reset_refuses_a_short_password(auth, reset_path):
    response = set_password(auth, reset_path, "short")
    assert response.status_code == 400
    assert "at least 10 characters" in response.get_data(as_text=True)
    assert auth.login(password=OLD_PASSWORD).status_code == 303


def test_reset_for_unknown_email_says_the_same_and_sends_nothing(auth):
    response = request_reset(auth, email="nobody@example.com")
    assert response.status_code == 303
    assert huey.pending_count() == 0


@pytest.mark.app_config(RESET_LIMIT_PER_ACCOUNT="2 per hour")
def test_reset_requests_are_rate_limited_per_account(auth, sign_up):
    sign_up()
    auth.logout()
    assert request_reset(auth).status_code == 303
    assert request_reset(auth).status_code == 303
    assert request_reset(auth).status_code == 429
    assert huey.pending_count() == 2


@pytest.mark.app_config(MAIL_SERVER=None)
def test_reset_email_is_an_eml_file_without_mail_server(app, auth, run_queued_tasks, mailbox):
    auth.signup()
    auth.logout()
    request_reset(auth)
    run_queued_tasks()
    verification, eml = sorted((Path(app.instance_path) / "mail").glob("*.eml"))
    assert "/verify/" in verification.read_text()
    assert "/password/reset/" in eml.read_text()
    assert mailbox.messages == []
