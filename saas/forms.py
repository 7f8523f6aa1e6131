"""The base of every form in the product: no control characters in any text field.

A NUL cannot be stored in PostgreSQL, and control characters in a value that ends up in an
email header or body break the email; refusing them at the form is the one place for all."""

import re

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import ValidationError

# Unicode category Cc: C0 controls, DEL and C1 controls. Line breaks are checked apart.
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
LINE_BREAK = re.compile(r"[\r\n]")


def no_control_characters(form, field) -> None:
    """Tab is fine anywhere; CR and LF only in a multi-line field."""
    if not isinstance(field.data, str):
        return
    if found := CONTROL_CHARACTER.search(field.data):
        raise ValidationError(
            f"Remove the invisible control character (U+{ord(found.group()):04X}) from this field."
        )
    if not isinstance(field, TextAreaField) and LINE_BREAK.search(field.data):
        raise ValidationError("Line breaks are not allowed here.")


class Form(FlaskForm):
    """A FlaskForm whose every field also runs `no_control_characters`."""

    def validate(self, extra_validators=None) -> bool:
        extra = dict(extra_validators or {})
        for field in self:
            extra[field.short_name] = [*extra.get(field.short_name, ()), no_control_characters]
        return super().validate(extra_validators=extra)
