"""The contact form; field names are part of the public interface."""

from flask_wtf import FlaskForm
from wtforms import EmailField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, ValidationError

from saas.auth.forms import strip

MESSAGE_MAX_LENGTH = 5000


def single_line(form, field) -> None:
    """Refuse CR, LF and NUL: these values end up in email headers."""
    if field.data and any(ch in field.data for ch in "\r\n\0"):
        raise ValidationError("Line breaks are not allowed here.")


class ContactForm(FlaskForm):
    name = StringField(
        "Name", validators=[DataRequired(), Length(max=100), single_line], filters=[strip]
    )
    email = EmailField(
        "Email",
        validators=[
            DataRequired(),
            single_line,
            Email(check_deliverability=False),
            Length(max=254),
        ],
        filters=[strip],
    )
    message = TextAreaField(
        "Message", validators=[DataRequired(), Length(max=MESSAGE_MAX_LENGTH)], filters=[strip]
    )
    # Hidden from people by CSS; bots that fill every field are dropped without a word.
    website = StringField("Leave this field empty")
