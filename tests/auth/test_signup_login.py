import pytest

from saas.auth.models import User
from saas.extensions import db, huey


def users(app) -> list[User]:
    with app.app_context():
        return db.session.execute(db.select(User)).scalars().all()


def test_signup_creates_a_normalised_account_and_logs_in(client, auth, app):
    response = auth.signup(email="  New.Customer@Example.COM ", password="a long password")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    [user] = users(app)
    assert user.email == "new.customer@example.com"
    assert user.password_hash.startswith("scrypt:")
    assert user.sign_in_count == 1
    assert user.current_sign_in_ip == "127.0.0.1"
    assert "Welcome back, new.customer@example.com" in client.get("/").get_data(as_text=True)


def test_signup_refuses_a_duplicate_email_whatever_its_case(auth, app):
    auth.signup(email="dup@example.com")
    auth.logout()
    response = auth.signup(email="DUP@example.com")
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)
    assert len(users(app)) == 1


def test_signup_refuses_a_short_password_and_writes_nothing(auth, app):
    response = auth.signup(password="short")
    assert response.status_code == 400
    assert "at least 10 characters" in response.get_data(as_text=True)
    assert users(app) == []
    assert huey.pending_count() == 0


def test_signup_refuses_an_invalid_email(auth, app):
    response = auth.signup(email="not-an-email")
    assert response.status_code == 400
    assert users(app) == []


def test_post_without_csrf_token_is_refused_with_400(client, app):
    response = client.post("/signup", data={"email": "a@example.com", "password": "long enough pw"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert users(app) == []


def test_login_and_logout(client, auth, app):
    auth.signup()
    auth.logout()
    assert "Welcome back" not in client.get("/").get_data(as_text=True)
    response = auth.login()
    assert response.status_code == 303
    assert "Welcome back, customer@example.com" in client.get("/").get_data(as_text=True)
    [user] = users(app)
    assert user.sign_in_count == 2
    assert user.last_sign_in_at is not None
    assert auth.logout().status_code == 303
    assert client.get("/settings").status_code == 302


def test_logout_is_post_only(client):
    assert client.get("/logout").status_code == 405


def test_wrong_password_and_unknown_email_get_the_same_answer(auth):
    auth.signup()
    auth.logout()
    wrong = auth.login(password="not the password")
    unknown = auth.login(email="nobody@example.com")
    for response in (wrong, unknown):
        assert response.status_code == 400
        assert "Wrong email or password." in response.get_data(as_text=True)


def test_disabled_account_cannot_log_in_and_is_logged_out(client, auth, app):
    auth.signup()
    with app.app_context():
        db.session.execute(db.update(User).values(active=False))
        db.session.commit()
    assert client.get("/settings").status_code == 302  # the live session ends too
    response = auth.login()
    assert response.status_code == 400
    assert "disabled" in response.get_data(as_text=True)


def test_remember_me_sets_a_persistent_cookie(client, auth):
    auth.signup()
    auth.logout()
    response = auth.login(remember="y")
    cookies = response.headers.getlist("Set-Cookie")
    remember = next(c for c in cookies if c.startswith("remember_token="))
    assert "HttpOnly" in remember and "Expires=" in remember


def test_login_redirects_to_a_safe_next(auth):
    auth.signup()
    auth.logout()
    response = auth.post(
        "/login?next=/settings",
        {"email": "customer@example.com", "password": "correct horse battery"},
    )
    assert response.headers["Location"] == "/settings"


def test_login_refuses_open_redirects(client, auth):
    auth.signup()
    for target in (
        "//evil.com",
        "https://evil.com",
        "/\\evil.com",
        "http:/evil.com",
        "/%0d%0aevil",
    ):
        auth.logout()
        response = auth.post(
            f"/login?next={target}",
            {"email": "customer@example.com", "password": "correct horse battery"},
        )
        assert response.status_code == 303
        assert response.headers["Location"] == "/", target


@pytest.mark.app_config(LOGIN_LIMIT_PER_ACCOUNT_IP="3 per minute")
def test_login_is_rate_limited_per_account(auth):
    auth.signup()
    auth.logout()
    for _ in range(3):
        assert auth.login(password="wrong password!").status_code == 400
    response = auth.login()
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many requests" in response.get_data(as_text=True)
    # Another account from the same address is still allowed.
    assert auth.login(email="other@example.com", password="whatever12345").status_code == 400


@pytest.mark.app_config(LOGIN_LIMIT_PER_IP="2 per minute")
def test_login_is_rate_limited_per_ip(auth):
    for number in range(2):
        assert auth.login(email=f"guess{number}@example.com").status_code == 400
    assert auth.login(email="guess9@example.com").status_code == 429


def test_session_cookie_flags(client, auth):
    response = auth.signup()
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # BASE_URL is http in tests
