"""The contact form; field names are part of the public interface."""

from wtforms import EmailField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length

from saas.auth.forms import strip
from saas.forms import Form

MESSAGE_MAX_LENGTH = 5000


class ContactForm(Form):
    """Name and email end up in email headers: the base Form refuses line breaks in them."""

    name = StringField("Name", validators=[DataRequired(), Length(max=100)], filters=[strip])
    email = EmailField(
        "Email",
        validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)],
        filters=[strip],
    )
    message = TextAreaField(
        "Message", validators=[DataRequired(), Length(max=MESSAGE_MAX_LENGTH)], filters=[strip]
    )
    # Hidden from people by CSS; bots that fill every field are dropped without a word.
    website = StringField("Leave this field empty")
