"""Signed, expiring tokens for password reset and email change."""

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from saas.auth.models import User
from saas.extensions import db

RESET_SALT = "password-reset"
EMAIL_CHANGE_SALT = "email-change"


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def password_reset_token(user: User) -> str:
    return _serializer(RESET_SALT).dumps({"user": user.id, "pw": user.password_fingerprint})


def user_for_reset_token(token: str) -> User | None:
    """The user a reset token is for, or None if it is forged, expired or already used."""
    max_age = current_app.config["PASSWORD_RESET_MAX_AGE"]
    try:
        data = _serializer(RESET_SALT).loads(token, max_age=max_age)
    except BadSignature:
        return None
    user = db.session.get(User, data.get("user"))
    # Any password change (including this token's own use) changes the fingerprint.
    if user is None or not user.active or user.password_fingerprint != data.get("pw"):
        return None
    return user


def email_change_token(user: User, new_email: str) -> str:
    return _serializer(EMAIL_CHANGE_SALT).dumps(
        {"user": user.id, "old": user.email, "new": new_email}
    )


def email_change_for_token(token: str) -> tuple[User, str] | None:
    """(user, new email) for a valid email-change token, or None."""
    max_age = current_app.config["EMAIL_CHANGE_MAX_AGE"]
    try:
        data = _serializer(EMAIL_CHANGE_SALT).loads(token, max_age=max_age)
    except BadSignature:
        return None
    user = db.session.get(User, data.get("user"))
    if user is None or not user.active or user.email != data.get("old"):
        return None
    return user, data["new"]
