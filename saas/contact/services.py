"""Storing a contact message and queueing its emails, in one transaction."""

import logging

from flask import current_app

from saas.auth.services import AccountError, normalize_email
from saas.contact.models import ContactMessage
from saas.extensions import db, limiter
from saas.mail import send_email

log = logging.getLogger(__name__)
ACKNOWLEDGEMENT_SCOPE = "contact-acknowledgement"


def submit_message(
    *, name: str, email: str, message: str, user_id: int | None, ip_address: str | None
) -> ContactMessage:
    """Store the message and email it to us; acknowledge it within the recipient's allowance."""
    contact = store_message(
        name=name, email=email, message=message, user_id=user_id, ip_address=ip_address
    )
    send_email(**message_to_us(contact))
    if acknowledgement_allowed(contact.email):
        send_email(**acknowledgement(contact))
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


def message_to_us(contact: ContactMessage) -> dict:
    """Everything the visitor wrote, to CONTACT_RECIPIENT, with Reply-To: the visitor."""
    return {
        "to": current_app.config["CONTACT_RECIPIENT"],
        "template": "contact_message",
        "reply_to": contact.email,
        "name": contact.name,
        "email": contact.email,
        "message": contact.message,
        "contact_id": contact.id,
    }


def acknowledgement(contact: ContactMessage) -> dict:
    """A fixed text: anyone may type any address in the form, so nothing the visitor wrote (name,
    message) goes into it, or it would carry their words from our address to anyone. The
    message's id, which the template does not show, links it to the message in the console."""
    return {"to": contact.email, "template": "contact_acknowledgement", "contact_id": contact.id}


def notifications(contact: ContactMessage) -> list[dict]:
    """Both emails a message may cause, without the acknowledgement's limit (bench variants)."""
    return [message_to_us(contact), acknowledgement(contact)]


def acknowledgement_allowed(email: str) -> bool:
    """Count an acknowledgement against CONTACT_ACK_LIMIT_PER_RECIPIENT, keyed on the address as
    accounts normalise it (look-alike spellings share one allowance), in the rate limits' storage
    (one round trip; in memory while Redis is down, like every limit). An address accounts
    refuse, or a storage that fails outright, means no acknowledgement: it is a courtesy."""
    try:
        recipient = normalize_email(email)
    except AccountError:
        return False
    allowance = current_app.config["CONTACT_ACK_LIMIT_PER_RECIPIENT"]
    try:
        return limiter.count(allowance, ACKNOWLEDGEMENT_SCOPE, recipient)
    except Exception:
        log.exception("Rate limit storage failed: contact acknowledgement not sent")
        return False
