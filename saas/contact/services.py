"""Storing a contact message and queueing its two emails, in one transaction."""

from flask import current_app

from saas.contact.models import ContactMessage
from saas.extensions import db
from saas.mail import send_email


def submit_message(
    *, name: str, email: str, message: str, user_id: int | None, ip_address: str | None
) -> ContactMessage:
    contact = store_message(
        name=name, email=email, message=message, user_id=user_id, ip_address=ip_address
    )
    for notification in notifications(contact):
        send_email(**notification)
    return contact


def store_message(
    *, name: str, email: str, message: str, user_id: int | None, ip_address: str | None
) -> ContactMessage:
    contact = ContactMessage(
        name=name, email=email, message=message, user_id=user_id, ip_address=ip_address
    )
    db.session.add(contact)
    db.session.flush()
    return contact


def notifications(contact: ContactMessage) -> list[dict]:
    """The two emails a message causes: to us (Reply-To: the visitor), and the acknowledgement."""
    details = {
        "name": contact.name,
        "email": contact.email,
        "message": contact.message,
        "contact_id": contact.id,
    }
    return [
        {
            "to": current_app.config["CONTACT_RECIPIENT"],
            "template": "contact_message",
            "reply_to": contact.email,
            **details,
        },
        {"to": contact.email, "template": "contact_acknowledgement", **details},
    ]
