"""Sign up, log in and out, password reset, account settings."""

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from flask_login.config import COOKIE_NAME
from sqlalchemy.exc import IntegrityError

from saas.auth import lockout, services
from saas.auth.forms import (
    ChangeEmailForm,
    ChangePasswordForm,
    DeleteAccountForm,
    LoginForm,
    ResendVerificationForm,
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
    """The session's account, while the session's version is the account's current one."""
    user_id, _, version = session_id.partition(":")
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or not user.active or str(user.session_version) != version:
        return None
    return user


@bp.before_app_request
def keep_last_seen_current() -> None:
    if current_user.is_authenticated and services.touch_last_seen(current_user):
        db.session.commit()


def _config_limit(name: str):
    return lambda: current_app.config[name]


def _submitted_account() -> str:
    return "account:" + services.account_key(request.form.get("email", ""))


def _submitted_account_and_ip() -> str:
    return f"{_submitted_account()}|ip:{request.remote_addr}"


def _form_refused(response) -> bool:
    """A login that failed (wrong password or a bad form); a lock's 429 is not counted again."""
    return response.status_code == 400


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


def _renew_session(user: User) -> None:
    """Keep this browser signed in after ending the account's other sessions."""
    remembered = current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME) in request.cookies
    login_user(user, remember=remembered)


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(_config_limit("SIGNUP_LIMIT_PER_IP"), methods=["POST"])
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
            flash(
                f"Welcome! Your account is ready. We sent a link to {user.email} to verify it.",
                "success",
            )
            response = redirect(url_for("pages.index"), code=303)
            lockout.remember_device(response, user)
            return response
    return render_template("auth/signup.html", form=form), _form_status(form)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_config_limit("LOGIN_LIMIT_PER_IP"), methods=["POST"])
@limiter.limit(
    _config_limit("LOGIN_LIMIT_PER_ACCOUNT_IP"),
    key_func=_submitted_account_and_ip,
    methods=["POST"],
    deduct_when=_form_refused,
)
def login():
    next_url = request.args.get("next")
    target = next_url if is_safe_next(next_url) else url_for("pages.index")
    if current_user.is_authenticated:
        return redirect(target)
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), _form_status(form)
    account = services.account_key(form.email.data)
    if lockout.account_locked(account) and not _owner_device(form.email.data):
        return _locked_out(form, account)
    try:
        user = services.authenticate(email=form.email.data, password=form.password.data)
    except AccountError as error:
        _refuse(form, error)
        return render_template("auth/login.html", form=form), 400
    if user is None:
        lockout.count_wrong_password(account)
        form.form_errors.append("Wrong email or password.")
        return render_template("auth/login.html", form=form), 400
    _sign_in(user, remember=form.remember.data)
    flash("You are logged in.", "success")
    response = redirect(target, code=303)
    lockout.remember_device(response, user)
    return response


def _owner_device(email: str) -> bool:
    user = services.find_user(email)
    return user is not None and lockout.known_to(user)


def _locked_out(form, account: str):
    form.form_errors.append(
        "Too many wrong passwords for this account. Try again later, log in from a device "
        "you have used before, or reset your password."
    )
    response = make_response(render_template("auth/login.html", form=form), 429)
    response.headers["Retry-After"] = str(lockout.seconds_locked(account))
    return response


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        current_user.end_sessions()  # a copied session or remember cookie dies with this one
        db.session.commit()
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
            _renew_session(current_user._get_current_object())
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
        if current_user.is_authenticated and current_user.id == user.id:
            _renew_session(user)
        flash(f"Your email is now {user.email}. Other sessions have been signed out.", "success")
    return redirect(url_for("auth.settings" if current_user.is_authenticated else "auth.login"))


@bp.get("/verify/<token>")
def verify_email(token: str):
    try:
        user = services.verify_email(token=token)
        db.session.commit()
    except AccountError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        flash(f"Thanks, {user.email} is verified.", "success")
    return redirect(url_for("auth.settings" if current_user.is_authenticated else "auth.login"))


@bp.post("/settings/verify")
@login_required
@limiter.limit(
    _config_limit("VERIFY_RESEND_LIMIT_PER_USER"),
    key_func=lambda: f"user:{current_user.id}",
    methods=["POST"],
)
def resend_verification():
    form = ResendVerificationForm()
    if not form.validate_on_submit():
        return _settings_page(400)
    if current_user.email_verified:
        flash("Your email is already verified.", "info")
    else:
        services.send_verification(current_user)
        db.session.commit()
        flash(f"We sent a new verification link to {current_user.email}.", "info")
    return redirect(url_for("auth.settings"), code=303)


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
