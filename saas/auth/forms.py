"""Account forms; field names are part of the public interface."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Email, Length

EMAIL = [DataRequired(), Email(check_deliverability=False), Length(max=254)]


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


PASSWORD = [DataRequired(), Length(max=256)]


class SignupForm(FlaskForm):
    email = EmailField("Email", validators=EMAIL, filters=[strip])
    password = PasswordField("Password", validators=PASSWORD)


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=EMAIL, filters=[strip])
    password = PasswordField("Password", validators=PASSWORD)
    remember = BooleanField("Remember me")


class ResetRequestForm(FlaskForm):
    email = EmailField("Email", validators=EMAIL, filters=[strip])


class ResetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=PASSWORD)


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=PASSWORD)
    new_password = PasswordField("New password", validators=PASSWORD)


class ChangeEmailForm(FlaskForm):
    email = EmailField("New email", validators=EMAIL, filters=[strip])
    password = PasswordField("Current password", validators=PASSWORD)


class DeleteAccountForm(FlaskForm):
    password = PasswordField("Current password", validators=PASSWORD)


class LogoutForm(FlaskForm):
    """Only the CSRF token: logging out is a POST."""
