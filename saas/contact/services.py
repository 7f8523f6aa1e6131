"""Storing a contact message and queueing its two emails, in one transaction."""

from flask import current_app

from saas.contact.models import ContactMessage
from saas.extensions import db
from saas.mail import send_email


def submit_message(
    *, name: str, email: str, message: str, user_id: int | None, ip_address: str | None
) -> ContactMessage:
    contact = ContactMessage(
        name=name, email=email, message=message, user_id=user_id, ip_address=ip_address
    )
    db.session.add(contact)
    db.session.flush()
    details = {"name": name, "email": email, "message": message, "contact_id": contact.id}
    send_email(
        to=current_app.config["CONTACT_RECIPIENT"],
        template="contact_message",
        reply_to=email,
        **details,
    )
    send_email(to=email, template="contact_acknowledgement", **details)
    return contact
