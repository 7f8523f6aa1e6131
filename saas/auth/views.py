"""Sign up, log in and out, password reset, account settings."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.exc import IntegrityError

from saas.auth import services
from saas.auth.forms import (
    ChangeEmailForm,
    ChangePasswordForm,
    DeleteAccountForm,
    LoginForm,
    ResetPasswordForm,
    ResetRequestForm,
    SignupForm,
)
from saas.auth.models import User
from saas.auth.services import AccountError
from saas.auth.tokens import user_for_reset_token
from saas.extensions import db, limiter, login_manager
from saas.urls import is_safe_next

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    user_id, _, fingerprint = session_id.partition(":")
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or not user.active or user.password_fingerprint != fingerprint:
        return None
    return user


@bp.before_app_request
def keep_last_seen_current() -> None:
    if current_user.is_authenticated and services.touch_last_seen(current_user):
        db.session.commit()


def _config_limit(name: str):
    return lambda: current_app.config[name]


def _submitted_account() -> str:
    return "account:" + request.form.get("email", "").strip().lower()


def _refuse(form, error: AccountError):
    """Show a service's refusal on the form; nothing it started is kept."""
    db.session.rollback()
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, str(error)]
    else:
        form.form_errors.append(str(error))


def _form_status(form) -> int:
    """400 for a submitted form that failed, so clients and tests can tell."""
    return 400 if request.method == "POST" else 200


def _sign_in(user: User, remember: bool = False) -> None:
    login_user(user, remember=remember)
    user.record_sign_in(request.remote_addr)
    db.session.commit()


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("pages.index"))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = services.register(email=form.email.data, password=form.password.data)
            db.session.commit()
        except AccountError as error:
            _refuse(form, error)
        except IntegrityError:
            _refuse(form, AccountError("An account with this email already exists.", "email"))
        else:
            _sign_in(user)
            flash("Welcome! Your account is ready.", "success")
            return redirect(url_for("pages.index"), code=303)
    return render_template("auth/signup.html", form=form), _form_status(form)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_config_limit("LOGIN_LIMIT_PER_IP"), methods=["POST"])
@limiter.limit(
    _config_limit("LOGIN_LIMIT_PER_ACCOUNT"), key_func=_submitted_account, methods=["POST"]
)
def login():
    next_url = request.args.get("next")
    if current_user.is_authenticated:
        return redirect(next_url if is_safe_next(next_url) else url_for("pages.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(email=form.email.data, password=form.password.data)
        except AccountError as error:
            _refuse(form, error)
        else:
            if user is not None:
                _sign_in(user, remember=form.remember.data)
                flash("You are logged in.", "success")
                target = next_url if is_safe_next(next_url) else url_for("pages.index")
                return redirect(target, code=303)
            form.form_errors.append("Wrong email or password.")
    return render_template("auth/login.html", form=form), _form_status(form)


@bp.post("/logout")
def logout():
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("pages.index"), code=303)


@bp.route("/password/reset", methods=["GET", "POST"])
@limiter.limit(_config_limit("RESET_LIMIT_PER_IP"), methods=["POST"])
@limiter.limit(
    _config_limit("RESET_LIMIT_PER_ACCOUNT"), key_func=_submitted_account, methods=["POST"]
)
def request_reset():
    form = ResetRequestForm()
    if form.validate_on_submit():
        services.request_password_reset(email=form.email.data)
        db.session.commit()
        flash("If an account exists for that email, a reset link is on its way.", "info")
        return redirect(url_for("auth.login"), code=303)
    return render_template("auth/reset_request.html", form=form), _form_status(form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    user = user_for_reset_token(token)
    if user is None:
        flash("This reset link is invalid, expired or already used. Ask for a new one.", "error")
        return redirect(url_for("auth.request_reset"), code=303)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.set_new_password(user=user, password=form.password.data)
        except AccountError as error:
            _refuse(form, error)
        else:
            db.session.commit()
            logout_user()
            flash("Your password has been changed. Log in with the new one.", "success")
            return redirect(url_for("auth.login"), code=303)
    return render_template("auth/reset_password.html", form=form), _form_status(form)


def _settings_page(status: int = 200, **forms):
    forms.setdefault("password_form", ChangePasswordForm(formdata=None))
    forms.setdefault("email_form", ChangeEmailForm(formdata=None))
    forms.setdefault("delete_form", DeleteAccountForm(formdata=None))
    return render_template("auth/settings.html", **forms), status


@bp.get("/settings")
@login_required
def settings():
    return _settings_page()


@bp.post("/settings/password")
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(
                user=current_user,
                current_password=form.current_password.data,
                new_password=form.new_password.data,
            )
        except AccountError as error:
            _refuse(form, error)
        else:
            db.session.commit()
            login_user(
                current_user._get_current_object()
            )  # the session id carries the password fingerprint
            flash("Your password has been changed.", "success")
            return redirect(url_for("auth.settings"), code=303)
    return _settings_page(400, password_form=form)


@bp.post("/settings/email")
@login_required
def change_email():
    form = ChangeEmailForm()
    if form.validate_on_submit():
        try:
            new_email = services.request_email_change(
                user=current_user, new_email=form.email.data, password=form.password.data
            )
        except AccountError as error:
            _refuse(form, error)
        else:
            db.session.commit()
            flash(f"We sent a confirmation link to {new_email}.", "info")
            return redirect(url_for("auth.settings"), code=303)
    return _settings_page(400, email_form=form)


@bp.get("/settings/email/confirm/<token>")
def confirm_email(token: str):
    try:
        user = services.confirm_email_change(token=token)
        db.session.commit()
    except AccountError as error:
        db.session.rollback()
        flash(str(error), "error")
    except IntegrityError:
        db.session.rollback()
        flash("An account with this email already exists.", "error")
    else:
        flash(f"Your email is now {user.email}.", "success")
    return redirect(url_for("auth.settings" if current_user.is_authenticated else "auth.login"))


@bp.post("/settings/delete")
@login_required
def delete_account():
    form = DeleteAccountForm()
    if form.validate_on_submit():
        try:
            services.delete_account(user=current_user, password=form.password.data)
        except AccountError as error:
            _refuse(form, error)
        else:
            db.session.commit()
            logout_user()
            flash("Your account has been deleted.", "info")
            return redirect(url_for("pages.index"), code=303)
    return _settings_page(400, delete_form=form)
