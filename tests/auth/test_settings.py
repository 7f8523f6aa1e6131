import re

from saas.auth.models import User
from saas.extensions import db
from tests.support.auth import AuthActions
from tests.support.smtp import text_body

PASSWORD = "correct horse battery"


def the_user(app) -> User | None:
    with app.app_context():
        return db.session.execute(db.select(User)).scalar_one_or_none()


def test_settings_requires_login(client):
    response = client.get("/settings")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fsettings"


def test_change_password_needs_the_current_one(auth, app):
    auth.signup()
    wrong = auth.post(
        "/settings/password",
        {"current_password": "not it at all", "new_password": "a new password!"},
        token_from="/settings",
    )
    assert wrong.status_code == 400
    assert "current password is not correct" in wrong.get_data(as_text=True)
    ok = auth.post(
        "/settings/password",
        {"current_password": PASSWORD, "new_password": "a new password!"},
        token_from="/settings",
    )
    assert ok.status_code == 303
    assert the_user(app).check_password("a new password!")


def test_password_change_ends_other_sessions(app, auth):
    auth.signup()
    other_device = app.test_client()
    AuthActions(other_device).login()
    assert other_device.get("/settings").status_code == 200
    auth.post(
        "/settings/password",
        {"current_password": PASSWORD, "new_password": "a new password!"},
        token_from="/settings",
    )
    assert auth.client.get("/settings").status_code == 200  # this browser stays in
    assert other_device.get("/settings").status_code == 302


def test_change_email_is_confirmed_by_a_link_sent_to_the_new_address(
    auth, sign_up, client, app, mailbox, run_queued_tasks
):
    sign_up()
    response = auth.post(
        "/settings/email",
        {"email": "New@Example.com", "password": PASSWORD},
        token_from="/settings",
    )
    assert response.status_code == 303
    assert the_user(app).email == "customer@example.com"  # not until confirmed
    run_queued_tasks()
    [message] = mailbox.wait_for(1)
    assert message["To"] == "new@example.com"
    path = re.search(r"^http://localhost(/settings/email/confirm/\S+)$", text_body(message), re.M)[
        1
    ]
    assert client.get(path).status_code == 302
    assert the_user(app).email == "new@example.com"
    assert the_user(app).email_verified  # the link proved the new address
    assert client.get(path).status_code == 302  # a second use changes nothing
    assert the_user(app).email == "new@example.com"


def test_change_email_refuses_a_taken_address(auth, sign_up, app, run_queued_tasks):
    sign_up(email="taken@example.com")
    auth.logout()
    sign_up()
    response = auth.post(
        "/settings/email",
        {"email": "taken@example.com", "password": PASSWORD},
        token_from="/settings",
    )
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)
    assert run_queued_tasks() == 0


def test_delete_account_needs_the_password(auth, client, app):
    auth.signup()
    wrong = auth.post("/settings/delete", {"password": "not my password"}, token_from="/settings")
    assert wrong.status_code == 400
    assert the_user(app) is not None
    ok = auth.post("/settings/delete", {"password": PASSWORD}, token_from="/settings")
    assert ok.status_code == 303
    assert the_user(app) is None
    assert client.get("/settings").status_code == 302
