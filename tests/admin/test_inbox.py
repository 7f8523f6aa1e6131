"""/admin/contact over HTTP: contact messages with the state of their two emails."""

import re

import pytest

from saas.admin.console import PAGE_SIZE
from saas.contact.models import ContactMessage
from saas.extensions import db
from saas.mail.models import OutboundEmail
from tests.admin.test_console import log_in_admin

ROW = re.compile(r'<tr data-message="(\d+)">(.*?)</tr>', re.S)
CELL = re.compile(r'<td data-kind="(\w+)">(.*?)</td>', re.S)
LINK = re.compile(r'href="/admin/emails/(\d+)".*?status-(\w+)', re.S)
FAST_FORMS = {
    "CONTACT_LIMIT_PER_VISITOR": "100 per minute",
    "CONTACT_LIMIT_PER_IP": "100 per minute",
    "CONTACT_ACK_LIMIT_PER_RECIPIENT": "1 per day",
}


def submit(auth, email: str) -> None:
    data = {"name": "Ada", "email": email, "message": f"Hello from {email}"}
    assert auth.post("/contact", data, token_from="/contact").status_code == 303


def inbox(auth, query: str = "") -> dict[int, dict]:
    """Message id -> {template: (email id, status) or None}, as the page shows them."""
    response = auth.client.get(f"/admin/contact{query}")
    assert response.status_code == 200
    shown = {}
    for message_id, row in ROW.findall(response.get_data(as_text=True)):
        cells = {kind: LINK.search(cell) for kind, cell in CELL.findall(row)}
        shown[int(message_id)] = {
            kind: (int(link[1]), link[2]) if link else None for kind, link in cells.items()
        }
    return shown


def emails_by_template(app) -> dict[str, list[OutboundEmail]]:
    with app.app_context():
        emails = db.session.execute(db.select(OutboundEmail).order_by(OutboundEmail.id)).scalars()
        grouped: dict[str, list] = {}
        for email in emails:
            grouped.setdefault(email.template, []).append(email)
        return grouped


@pytest.mark.app_config(**FAST_FORMS)
def test_the_inbox_shows_each_message_with_the_state_of_its_two_emails(
    app, auth, mailbox, run_queued_tasks
):
    log_in_admin(app, auth)
    mailbox.rejected.add("carol@example.com")
    for sender in ("bob@example.com", "bob@example.com", "carol@example.com"):
        submit(auth, sender)  # bob's second acknowledgement is over the per-recipient limit
    assert run_queued_tasks() == 5
    sent = emails_by_template(app)
    to_us = [email.id for email in sent["contact_message"]]
    bob_ack, carol_ack = (email.id for email in sent["contact_acknowledgement"])

    assert inbox(auth) == {  # newest first
        3: {
            "contact_message": (to_us[2], "sent"),
            "contact_acknowledgement": (carol_ack, "failed"),
        },
        2: {"contact_message": (to_us[1], "sent"), "contact_acknowledgement": None},
        1: {"contact_message": (to_us[0], "sent"), "contact_acknowledgement": (bob_ack, "sent")},
    }
    page = auth.client.get("/admin/contact").get_data(as_text=True)
    assert "Hello from carol@example.com" in page and "per-recipient limit" in page
    carol = auth.client.get(f"/admin/emails/{carol_ack}").get_data(as_text=True)
    assert "SMTP 550" in carol

    assert list(inbox(auth, "?email=BOB@example.com")) == [2, 1]
    for bad in ("?email=bob", "?before=two", "?email=" + "x" * 300 + "@example.com"):
        assert auth.client.get(f"/admin/contact{bad}").status_code == 400


def test_the_inbox_pages_by_id(app, auth):
    log_in_admin(app, auth)
    with app.app_context():
        for n in range(PAGE_SIZE + 1):
            db.session.add(ContactMessage(name="A", email=f"u{n}@example.com", message="Hi"))
        db.session.commit()
    first = inbox(auth)
    assert len(first) == PAGE_SIZE and min(first) == 2
    assert list(inbox(auth, "?before=2")) == [1]
    assert inbox(auth, "?before=2")[1] == {
        "contact_message": None,
        "contact_acknowledgement": None,
    }
