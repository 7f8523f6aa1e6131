"""Issue 12, items 1, 6 and 7, and the verification half of item 2, through HTTP: look-alike
addresses share one allowance, sessions end server-side, tokens are bound and single-use, and
wrong passwords slow the guesser without locking the owner out."""

import re
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest

from saas.auth.models import User
from saas.auth.tokens import password_reset_token
from saas.extensions import db, huey
from tests.support.accounts import make_user
from tests.support.auth import AuthActions
from tests.support.smtp import free_port, text_body
from tests.support.waiting import wait_until_serving

PASSWORD = "customer-password"  # make_user's
ALICE = "alice@example.com"
# The same address to the account lookup; the limiter used to key on the raw text.
LOOKALIKES = [
    "alice@example.com",
    "ALICE@Example.com",
    "alice@ｅxample.com",
    "Alice@ＥＸＡＭＰＬＥ.com",
]
HOME_IP, CAFE_IP = "198.51.100.7", "192.0.2.44"


def post(client, path: str, data: dict, ip: str = "127.0.0.1"):
    return AuthActions(client).post(path, data, environ_base={"REMOTE_ADDR": ip})


def login(client, email: str, password: str, ip: str = "127.0.0.1", **extra):
    return post(client, "/login", {"email": email, "password": password, **extra}, ip)


def user(app, email: str) -> User | None:
    with app.app_context():
        return db.session.execute(db.select(User).filter_by(email=email)).scalar_one_or_none()


def link(message, path: str) -> str:
    return re.search(rf"^http://localhost({path}\S+)$", text_body(message), re.M)[1]


# Item 1: one normalisation for every key, lookup and uniqueness check.


@pytest.mark.app_config(LOGIN_LIMIT_PER_ACCOUNT_IP="3 per minute")
def test_lookalike_spellings_share_one_login_allowance(app, client):
    make_user(app, ALICE)
    for spelling in LOOKALIKES[:3]:
        assert login(client, spelling, "wrong password!").status_code == 400
    refused = login(client, LOOKALIKES[3], PASSWORD)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60


def test_lookalike_spellings_share_the_three_per_hour_reset_allowance(app, client):
    make_user(app, ALICE)
    for spelling in LOOKALIKES[:3]:
        assert post(client, "/password/reset", {"email": spelling}).status_code == 303
    assert post(client, "/password/reset", {"email": LOOKALIKES[3]}).status_code == 429
    assert huey.pending_count() == 3  # three reset emails, not four


def test_a_lookalike_signup_is_the_existing_account(app, client):
    make_user(app, ALICE)
    response = post(client, "/signup", {"email": "ALICE@ｅxample.com", "password": PASSWORD})
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 1


def _session_through(port: int) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))


def _wrong_login(opener, url: str) -> int:
    page = opener.open(f"{url}/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]
    body = urllib.parse.urlencode({"email": ALICE, "password": "wrong!", "csrf_token": token})
    try:
        return opener.open(f"{url}/login", body.encode(), timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code


def _serve(start_process, port: int) -> str:
    app_module = ('"saas:create_app()" --bind 0.0.0.0:', '"saas:create_app()" --bind 127.0.0.1:')
    start_process("web", app_module, PORT=str(port), WEB_CONCURRENCY="1", WEB_THREADS="4")
    return wait_until_serving(f"http://127.0.0.1:{port}")


def test_two_web_processes_share_one_allowance(app, start_process):
    """Two of the Procfile's web commands on one instance folder (or one Redis), requests
    alternating between them: the fourth wrong password is refused, wherever it lands."""
    make_user(app, ALICE)
    limit = {"LOGIN_LIMIT_PER_ACCOUNT_IP": "3 per minute"}
    urls = [_serve(lambda *a, **e: start_process(*a, **e, **limit), free_port()) for _ in "ab"]
    opener = _session_through(0)
    statuses = [_wrong_login(opener, urls[attempt % 2]) for attempt in range(6)]
    assert statuses == [400, 400, 400, 429, 429, 429]


# Item 2 (verification) and item 6: sessions end server-side; tokens bound and single-use.


def test_signup_sends_a_verification_link_that_proves_the_address(
    app, auth, client, mailbox, run_queued_tasks
):
    assert auth.signup(email="New@Example.com").status_code == 303
    assert "not verified" in client.get("/settings").get_data(as_text=True)
    run_queued_tasks()
    [message] = mailbox.wait_for(1)
    assert (message["To"], message["Subject"]) == (
        "new@example.com",
        "Verify your SaaS email address",
    )
    path = link(message, "/verify/")
    assert client.get(path).headers["Location"] == "/settings"
    assert user(app, "new@example.com").email_verified
    assert "not verified" not in client.get("/settings").get_data(as_text=True)
    verified_at = user(app, "new@example.com").email_verified_at
    assert client.get(path).status_code == 302  # a second use changes nothing
    assert user(app, "new@example.com").email_verified_at == verified_at


@pytest.mark.app_config(VERIFY_RESEND_LIMIT_PER_USER="2 per hour")
def test_a_new_verification_link_on_request_within_a_limit(auth, sign_up, run_queued_tasks):
    sign_up()
    for _ in range(2):
        resent = auth.post("/settings/verify", token_from="/settings")
        assert resent.headers["Location"] == "/settings"
    assert auth.post("/settings/verify", token_from="/settings").status_code == 429
    assert run_queued_tasks() == 2


def test_a_forged_or_outdated_verification_link_verifies_nothing(app, auth, client, sign_up):
    sign_up()
    assert client.get("/verify/not-a-token", follow_redirects=True).status_code == 200
    assert not user(app, "customer@example.com").email_verified


def _copy_cookies(source, target, names=("session", "remember_token")) -> None:
    for name in names:
        cookie = source.get_cookie(name)
        assert cookie is not None, name
        target.set_cookie(name, cookie.value, domain=cookie.domain)


def test_logout_ends_a_copied_session_and_remember_cookie(app, client):
    make_user(app, ALICE)
    assert login(client, ALICE, PASSWORD, remember="y").status_code == 303
    stolen_session, stolen_remember = app.test_client(), app.test_client()
    _copy_cookies(client, stolen_session)
    _copy_cookies(client, stolen_remember, names=("remember_token",))
    assert stolen_session.get("/settings").status_code == 200
    assert stolen_remember.get("/settings").status_code == 200
    assert AuthActions(client).logout().status_code == 303
    assert stolen_session.get("/settings").status_code == 302
    assert stolen_remember.get("/settings").status_code == 302
    assert login(client, ALICE, PASSWORD).status_code == 303  # logging in again works


def test_an_email_change_ends_other_sessions_tells_the_old_address_and_voids_its_links(
    app, auth, client, sign_up, mailbox, run_queued_tasks
):
    sign_up()
    other_device = app.test_client()
    assert login(other_device, "customer@example.com", "correct horse battery").status_code == 303
    with app.app_context():
        old_reset = password_reset_token(db.session.get(User, user(app, "customer@example.com").id))
    changed = {"email": "new@example.com", "password": "correct horse battery"}
    assert auth.post("/settings/email", changed, token_from="/settings").status_code == 303
    run_queued_tasks()
    [confirm] = mailbox.wait_for(1)
    assert client.get(link(confirm, "/settings/email/confirm/")).status_code == 302
    assert client.get("/settings").status_code == 200  # the browser that confirmed stays in
    assert other_device.get("/settings").status_code == 302
    run_queued_tasks()
    notice = mailbox.wait_for(2)[1]
    assert (notice["To"], notice["Subject"]) == (
        "customer@example.com",
        "Your SaaS email address was changed",
    )
    assert "new@example.com" in text_body(notice)
    stale = client.get(f"/password/reset/{old_reset}")
    assert stale.headers["Location"] == "/password/reset"  # bound to the old address


def test_an_old_confirmation_link_cannot_be_replayed_after_a_round_trip(
    app, auth, client, sign_up, mailbox, run_queued_tasks
):
    sign_up()
    links = []
    for address in ("b@example.com", "customer@example.com"):
        form = {"email": address, "password": "correct horse battery"}
        assert auth.post("/settings/email", form, token_from="/settings").status_code == 303
        run_queued_tasks()
        links.append(link(mailbox.wait_for(1)[0], "/settings/email/confirm/"))
        mailbox.clear()
        assert client.get(links[-1]).status_code == 302
        run_queued_tasks()  # the notice to the old address
        mailbox.wait_for(1)
        mailbox.clear()
    assert user(app, "customer@example.com") is not None
    replay = client.get(links[0], follow_redirects=True)
    assert "invalid or has expired" in replay.get_data(as_text=True)
    assert user(app, "customer@example.com") is not None
    assert user(app, "b@example.com") is None


def test_disabling_an_account_ends_its_sessions_for_good(app, client, runner):
    make_user(app, ALICE)
    assert login(client, ALICE, PASSWORD, remember="y").status_code == 303
    copy = app.test_client()
    _copy_cookies(client, copy)
    assert "disabled" in runner.invoke(args=["users", "disable", ALICE]).output
    assert client.get("/settings").status_code == 302
    assert "enabled" in runner.invoke(args=["users", "enable", ALICE]).output
    assert copy.get("/settings").status_code == 302  # enabling does not revive old cookies
    assert login(copy, ALICE, PASSWORD).status_code == 303


# Item 7: no lockout of the owner; limits per account+IP, per IP, and on signup.


@pytest.mark.app_config(LOGIN_LIMIT_PER_ACCOUNT_IP="2 per minute;4 per hour")
def test_one_guessing_ip_waits_while_the_owner_elsewhere_does_not(app, client):
    make_user(app, ALICE)
    guesser = app.test_client()
    for _ in range(2):
        assert login(guesser, ALICE, "wrong password!", ip=CAFE_IP).status_code == 400
    refused = login(guesser, ALICE, PASSWORD, ip=CAFE_IP)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert login(client, ALICE, PASSWORD, ip=HOME_IP).status_code == 303


@pytest.mark.app_config(LOGIN_LIMIT_PER_ACCOUNT="4 per hour")
def test_a_distributed_guesser_cannot_lock_the_owner_out(app, client):
    make_user(app, ALICE)
    assert login(client, ALICE, PASSWORD, ip=HOME_IP).status_code == 303
    AuthActions(client).logout()
    guesser = app.test_client()
    for number in range(4):
        assert login(guesser, ALICE, "wrong password!", ip=f"203.0.113.{number}").status_code == 400
    locked = login(guesser, ALICE, PASSWORD, ip="203.0.113.99")
    assert locked.status_code == 429
    assert "Too many wrong passwords" in locked.get_data(as_text=True)
    assert int(locked.headers["Retry-After"]) > 0
    # The owner: their own browser from a new network, and a new browser at home, both get in.
    assert login(client, ALICE, PASSWORD, ip=CAFE_IP).status_code == 303
    assert login(app.test_client(), ALICE, PASSWORD, ip=HOME_IP).status_code == 303
    # A forged "known device" cookie does not pass.
    forger = app.test_client()
    forger.set_cookie("known_device", "W1dd.forged.cookie", domain="localhost")
    assert login(forger, ALICE, PASSWORD, ip="203.0.113.100").status_code == 429


@pytest.mark.app_config(LOGIN_LIMIT_PER_ACCOUNT="2 per hour")
def test_the_lock_looks_the_same_for_an_account_that_does_not_exist(app, client):
    for _ in range(2):
        assert login(client, "ghost@example.com", "wrong password!").status_code == 400
    assert login(client, "ghost@example.com", "wrong password!").status_code == 429


@pytest.mark.app_config(SIGNUP_LIMIT_PER_IP="3 per hour")
def test_signup_is_limited_per_ip(app, client):
    make_user(app, ALICE)
    probe = {"email": ALICE, "password": "a long password"}
    for _ in range(3):
        assert post(client, "/signup", probe, ip=CAFE_IP).status_code == 400
    assert post(client, "/signup", probe, ip=CAFE_IP).status_code == 429
    fresh = {"email": "fresh@example.com", "password": "a long password"}
    assert post(app.test_client(), "/signup", fresh, ip=HOME_IP).status_code == 303
