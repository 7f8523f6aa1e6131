"""Account operations shared by views, CLI commands and tasks. Callers commit."""

import unicodedata
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from saas.auth.models import ADMIN, MEMBER, User
from saas.auth.tokens import (
    email_change_for_token,
    email_change_token,
    password_reset_token,
    user_for_verification_token,
    verification_token,
)
from saas.database import now_utc
from saas.extensions import db
from saas.jobs.retry import PermanentError
from saas.mail import send_email
from saas.urls import absolute_url

# Compared against when no account matches, so a miss costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class AccountError(ValueError):
    """A request the account rules refuse; `field` names the form field to show it on."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def normalize_email(raw: str) -> str:
    """The one form of an address used for every lookup, uniqueness check, token and limit key:
    look-alikes (`ALICE@ｅxample.com`, fullwidth letters) become the same address."""
    try:
        folded = unicodedata.normalize("NFKC", raw).strip()
        return validate_email(folded, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise AccountError(str(exc), field="email") from exc


def account_key(raw: str) -> str:
    """The rate-limit key of a submitted address: its normalised form when it is valid."""
    try:
        return normalize_email(raw)
    except AccountError:
        return unicodedata.normalize("NFKC", raw).strip().lower()


def find_user(email: str) -> User | None:
    try:
        email = normalize_email(email)
    except AccountError:
        return None
    return db.session.execute(db.select(User).filter_by(email=email)).scalar_one_or_none()


def check_password_rules(password: str, field: str = "password") -> None:
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        raise AccountError(f"Use at least {minimum} characters.", field=field)


def register(*, email: str, password: str, role: str = "member", verified: bool = False) -> User:
    """A new account; unless an operator vouches for the address (`verified`), a link to prove it
    goes to that address."""
    email = normalize_email(email)
    check_password_rules(password)
    if find_user(email):
        raise AccountError("An account with this email already exists.", field="email")
    user = User(email=email, role=role, email_verified_at=now_utc() if verified else None)
    user.set_password(password)
    db.session.add(user)
    if not verified:
        db.session.flush()  # the verification link names the account's id
        send_verification(user)
    return user


def send_verification(user: User) -> None:
    link = absolute_url("auth.verify_email", token=verification_token(user))
    send_email(to=user.email, user_id=user.id, template="verify_email", verify_link=link)


def verify_email(*, token: str) -> User:
    user = user_for_verification_token(token)
    if user is None:
        raise AccountError("This verification link is invalid or has expired.")
    if user.email_verified_at is None:
        user.email_verified_at = now_utc()
    return user


def create_admin(*, email: str, password: str) -> User:
    """Make the account an admin, creating it if needed."""
    user = find_user(email)
    if user is None:
        return register(email=email, password=password, role=ADMIN, verified=True)
    check_password_rules(password)
    user.role = ADMIN
    user.set_password(password)
    user.email_verified_at = user.email_verified_at or now_utc()
    return user


def authenticate(*, email: str, password: str) -> User | None:
    """The account for these credentials, or None; disabled accounts raise AccountError."""
    user = find_user(email)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not user.check_password(password):
        return None
    if not user.active:
        raise AccountError("This account is disabled. Contact support.")
    return user


def request_password_reset(*, email: str) -> None:
    """Email a reset link if an active account matches; say nothing either way."""
    user = find_user(email)
    if user is None or not user.active:
        return
    link = absolute_url("auth.reset_password", token=password_reset_token(user))
    hours = current_app.config["PASSWORD_RESET_MAX_AGE"] // 3600
    send_email(
        to=user.email,
        user_id=user.id,
        template="password_reset",
        reset_link=link,
        valid_hours=hours,
    )


def set_new_password(*, user: User, password: str) -> None:
    check_password_rules(password)
    user.set_password(password)
    send_email(to=user.email, user_id=user.id, template="password_changed")


def change_password(*, user: User, current_password: str, new_password: str) -> None:
    if not user.check_password(current_password):
        raise AccountError("Your current password is not correct.", field="current_password")
    set_new_password(user=user, password=new_password)


def request_email_change(*, user: User, new_email: str, password: str) -> str:
    if not user.check_password(password):
        raise AccountError("Your password is not correct.", field="password")
    new_email = normalize_email(new_email)
    if new_email == user.email:
        raise AccountError("That is already your email address.", field="email")
    if find_user(new_email):
        raise AccountError("An account with this email already exists.", field="email")
    link = absolute_url("auth.confirm_email", token=email_change_token(user, new_email))
    send_email(
        to=new_email,
        user_id=user.id,
        template="confirm_email",
        confirm_link=link,
        old_email=user.email,
    )
    return new_email


def confirm_email_change(*, token: str) -> User:
    found = email_change_for_token(token)
    if found is None:
        raise AccountError("This confirmation link is invalid or has expired.")
    user, new_email = found
    if find_user(new_email):
        raise AccountError("An account with this email already exists.")
    old_email = user.email
    user.change_email(new_email)
    send_email(
        to=old_email,
        user_id=user.id,
        template="email_changed",
        old_email=old_email,
        new_email=new_email,
    )
    return user


def delete_account(*, user: User, password: str) -> None:
    if not user.check_password(password):
        raise AccountError("Your password is not correct.", field="password")
    db.session.delete(user)


def touch_last_seen(user: User) -> bool:
    """Refresh last_seen_at at most once per LAST_SEEN_INTERVAL; True if it changed."""
    now = now_utc()
    interval = timedelta(seconds=current_app.config["LAST_SEEN_INTERVAL"])
    if user.last_seen_at is not None and now - user.last_seen_at < interval:
        return False
    user.last_seen_at = now
    return True


def _other_active_admins(user: User) -> int:
    return db.session.scalar(
        db.select(db.func.count())
        .select_from(User)
        .where(User.role == ADMIN, User.active.is_(True), User.id != user.id)
    )


def set_enabled(user: User, enabled: bool) -> str:
    """Disable (every session ends) or enable an account; never the last active admin."""
    if enabled == user.active:
        return f"{user.email} is already {'enabled' if enabled else 'disabled'}; nothing changed."
    if not enabled and user.is_admin and _other_active_admins(user) == 0:
        raise AccountError(f"{user.email} is the last active admin: it cannot be disabled.")
    if enabled:
        user.active = True
        return f"{user.email} is enabled; its old sessions stay ended."
    user.disable()
    return f"{user.email} is disabled; every session of it has ended."


def set_admin(user: User, admin: bool) -> str:
    """Grant or revoke the admin role; the last active admin keeps it."""
    if admin == user.is_admin:
        return f"{user.email} {'is' if admin else 'is not'} an admin already; nothing changed."
    if not admin and _other_active_admins(user) == 0:
        raise AccountError(f"{user.email} is the last active admin: the role stays.")
    user.role = ADMIN if admin else MEMBER
    return f"{user.email} {'is now an admin' if admin else 'is no longer an admin'}."


def account_of(run) -> User:
    """The account a per-account task (a RunContext with `user_id`) was run for; gone since,
    the run fails for good."""
    user = db.session.get(User, run.arguments["user_id"])
    if user is None:
        raise PermanentError(f"No account has the id {run.arguments['user_id']}.")
    return user
