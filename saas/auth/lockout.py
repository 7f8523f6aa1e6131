"""Wrong passwords slow the guesser down without locking the owner out.

Three limits, each only as wide as it must be:
- per IP, every login POST (`LOGIN_LIMIT_PER_IP`, a decorator on the view);
- per account and IP, wrong passwords only, in windows that grow (`LOGIN_LIMIT_PER_ACCOUNT_IP`):
  one guesser waits longer and longer, nobody else notices;
- per account from anywhere, wrong passwords only (`LOGIN_LIMIT_PER_ACCOUNT`): past it the account
  is locked, except to a browser or IP its owner signed in from before (`known_to`), so a
  distributed guesser cannot keep the owner out."""

from flask import Response, current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from saas.auth.models import User
from saas.extensions import limiter

KNOWN_DEVICE_COOKIE = "known_device"
REMEMBERED_ACCOUNTS = 5  # accounts one browser vouches for


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="known-device")


def _max_age() -> int:
    return current_app.config["KNOWN_DEVICE_DAYS"] * 86400


def accounts_known_here() -> list[int]:
    """Ids of the accounts that signed in from this browser (a cookie we signed)."""
    raw = request.cookies.get(KNOWN_DEVICE_COOKIE)
    try:
        ids = _serializer().loads(raw, max_age=_max_age()) if raw else []
    except BadSignature:
        return []
    return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


def known_to(user: User) -> bool:
    """Has the owner signed in from this browser or this IP before?"""
    seen_ips = {user.current_sign_in_ip, user.last_sign_in_ip} - {None}
    return user.id in accounts_known_here() or request.remote_addr in seen_ips


def remember_device(response: Response, user: User) -> None:
    others = [i for i in accounts_known_here() if i != user.id]
    response.set_cookie(
        KNOWN_DEVICE_COOKIE,
        _serializer().dumps([user.id, *others][:REMEMBERED_ACCOUNTS]),
        max_age=_max_age(),
        httponly=True,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        samesite="Lax",
    )


def _account_limit() -> str:
    return current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]


def account_locked(account: str) -> bool:
    return not limiter.allows(_account_limit(), "login-account", account)


def seconds_locked(account: str) -> int:
    return limiter.seconds_until_allowed(_account_limit(), "login-account", account)


def count_wrong_password(account: str) -> None:
    limiter.count(_account_limit(), "login-account", account)
