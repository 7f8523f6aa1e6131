"""Account forms; field names are part of the public interface."""

from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Email, Length

from saas.forms import Form

EMAIL = [DataRequired(), Email(check_deliverability=False), Length(max=254)]


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


PASSWORD = [DataRequired(), Length(max=256)]


class SignupForm(Form):
    email = EmailField("Email", validators=EMAIL, filters=[strip])
    password = PasswordField("Password", validators=PASSWORD)


class LoginForm(Form):
    email = EmailField("Email", validators=EMAIL, filters=[strip])
    password = PasswordField("Password", validators=PASSWORD)
    remember = BooleanField("Remember me")


class ResetRequestForm(Form):
    email = EmailField("Email", validators=EMAIL, filters=[strip])


class ResetPasswordForm(Form):
    password = PasswordField("New password", validators=PASSWORD)


class ChangePasswordForm(Form):
    current_password = PasswordField("Current password", validators=PASSWORD)
    new_password = PasswordField("New password", validators=PASSWORD)


class ChangeEmailForm(Form):
    email = EmailField("New email", validators=EMAIL, filters=[strip])
    password = PasswordField("Current password", validators=PASSWORD)


class DeleteAccountForm(Form):
    password = PasswordField("Current password", validators=PASSWORD)


class LogoutForm(Form):
    """Only the CSRF token: logging out is a POST."""


class ResendVerificationForm(Form):
    """Only the CSRF token."""
