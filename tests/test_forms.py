"""Control characters in any field of any form: 400 with the reason on the form, nothing kept."""

import pytest

from saas.auth.models import User
from saas.auth.tokens import password_reset_token
from saas.contact.models import ContactMessage
from saas.extensions import db, huey
from saas.mail.models import OutboundEmail

PASSWORD = "correct horse battery"
CONTACT = {"name": "Ada Lovelace", "email": "ada@example.com", "message": "Hello!\nA question."}
# (path, page holding the CSRF token, valid fields, logged in?); None: the reset link's path
FORMS = {
    "contact": ("/contact", "/contact", CONTACT, False),
    "signup": ("/signup", "/signup", {"email": "new@example.com", "password": PASSWORD}, False),
    "login": ("/login", "/login", {"email": "customer@example.com", "password": PASSWORD}, False),
    "reset request": (
        "/password/reset",
        "/password/reset",
        {"email": "customer@example.com"},
        False,
    ),
    "reset": (None, None, {"password": "a brand new password"}, False),
    "change password": (
        "/settings/password",
        "/settings",
        {"current_password": PASSWORD, "new_password": "a brand new password"},
        True,
    ),
    "change email": (
        "/settings/email",
        "/settings",
        {"email": "new@example.com", "password": PASSWORD},
        True,
    ),
    "delete account": ("/settings/delete", "/settings", {"password": PASSWORD}, True),
}
CASES = [
    pytest.param(form, field, character, id=f"{form}-{field}-U+{ord(character):04X}")
    for form, (_, _, fields, _) in FORMS.items()
    for field in fields
    for character in ("\x00", "\x1b", "\x85")
]


def state(app) -> dict:
    """Everything a submission could store or queue."""
    with app.app_context():
        users = db.session.execute(db.select(User).order_by(User.id)).scalars()
        return {
            "users": [(u.email, u.password_hash, u.active, u.sign_in_count) for u in users],
            "contact messages": db.session.scalar(db.select(db.func.count(ContactMessage.id))),
            "emails": db.session.scalar(db.select(db.func.count(OutboundEmail.id))),
            "queued tasks": huey.pending_count(),
        }


def reset_path(app) -> str:
    with app.app_context():
        user = db.session.execute(db.select(User)).scalar_one()
        return f"/password/reset/{password_reset_token(user)}"


@pytest.mark.parametrize(("form", "field", "character"), CASES)
def test_a_control_character_in_any_field_is_refused_and_nothing_is_kept(
    app, auth, form, field, character
):
    path, token_from, fields, logged_in = FORMS[form]
    assert auth.signup().status_code == 303
    if not logged_in:
        auth.logout()
    if path is None:
        path = token_from = reset_path(app)
    before = state(app)
    value = fields[field]
    bad = {**fields, field: f"{value[:3]}{character}{value[3:]}"}
    response = auth.post(path, bad, token_from=token_from)
    assert response.status_code == 400
    assert f"control character (U+{ord(character):04X})" in response.get_data(as_text=True)
    assert state(app) == before
    assert auth.post(path, fields, token_from=token_from).status_code == 303  # the same, clean


@pytest.mark.parametrize("field", ["name", "email"])
def test_a_line_break_in_a_single_line_field_is_refused(app, auth, field):
    bad = {**CONTACT, field: f"{CONTACT[field]}\nBcc: victim@example.com"}
    response = auth.post("/contact", bad, token_from="/contact")
    assert response.status_code == 400
    assert "Line breaks are not allowed here." in response.get_data(as_text=True)
    assert state(app)["contact messages"] == 0


def test_tab_and_line_breaks_are_kept_in_a_multi_line_field(app, auth):
    message = "Columns:\ta\tb\r\nSecond line\rThird"
    response = auth.post("/contact", {**CONTACT, "message": message}, token_from="/contact")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.execute(db.select(ContactMessage.message)).scalar_one() == message
