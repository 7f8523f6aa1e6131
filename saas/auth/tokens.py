"""Signed, expiring tokens for password reset, email change and email verification.

Each is bound to the account's current address (and email_version), so none survives an email
change, and each is single-use: using it changes what it is bound to (the password, the email
version, the verified flag)."""

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from saas.auth.models import User
from saas.extensions import db

RESET_SALT = "password-reset"
EMAIL_CHANGE_SALT = "email-change"
VERIFY_SALT = "email-verify"


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _address_of(user: User) -> dict:
    return {"user": user.id, "email": user.email, "v": user.email_version}


def _load(salt: str, token: str, max_age_setting: str) -> tuple[User, dict] | None:
    """The active account a token names, still at the address and email version it was issued
    for, with the token's data; None if forged, expired or outdated."""
    try:
        data = _serializer(salt).loads(token, max_age=current_app.config[max_age_setting])
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("user"), int):
        return None
    user = db.session.get(User, data["user"])
    if user is None or not user.active:
        return None
    if (user.email, user.email_version) != (data.get("email"), data.get("v")):
        return None
    return user, data


def password_reset_token(user: User) -> str:
    return _serializer(RESET_SALT).dumps({**_address_of(user), "pw": user.password_fingerprint})


def user_for_reset_token(token: str) -> User | None:
    """The user a reset token is for, or None if it is forged, expired or already used."""
    found = _load(RESET_SALT, token, "PASSWORD_RESET_MAX_AGE")
    # Any password change (including this token's own use) changes the fingerprint.
    if found is None or found[0].password_fingerprint != found[1].get("pw"):
        return None
    return found[0]


def email_change_token(user: User, new_email: str) -> str:
    return _serializer(EMAIL_CHANGE_SALT).dumps({**_address_of(user), "new": new_email})


def email_change_for_token(token: str) -> tuple[User, str] | None:
    """(user, new email) for a valid email-change token, or None."""
    found = _load(EMAIL_CHANGE_SALT, token, "EMAIL_CHANGE_MAX_AGE")
    if found is None or not isinstance(found[1].get("new"), str):
        return None
    return found[0], found[1]["new"]


def verification_token(user: User) -> str:
    return _serializer(VERIFY_SALT).dumps(_address_of(user))


def user_for_verification_token(token: str) -> User | None:
    """The account whose address this link proves, or None (forged, expired, outdated)."""
    found = _load(VERIFY_SALT, token, "EMAIL_VERIFY_MAX_AGE")
    return None if found is None else found[0]
