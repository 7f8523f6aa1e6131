"""Storing a contact message and queueing its emails, in one transaction: on PostgreSQL in one
statement (the message and its outbox rows), on SQLite with the ORM."""

import json

from flask import current_app
from sqlalchemy import text

from saas.auth.services import AccountError, normalize_email
from saas.contact.models import ContactMessage
from saas.database import now_utc
from saas.extensions import autocommit_if_idle, db
from saas.jobs.enqueue import enqueue_after_commit
from saas.mail import send_bulk
from saas.mail.models import EmailStatus
from saas.mail.tasks import deliver_outbound_email

ACKNOWLEDGEMENT_SCOPE = "contact-acknowledgement"

# The message and its emails in one round trip. The emails come as one JSON array, so the text
# (and psycopg's prepared statement) is the same for one email or two; each email's context
# gets the message's id, which only exists inside the statement.
STORE_WITH_EMAILS = text(f"""
WITH message AS (
    INSERT INTO contact_messages (name, email, message, user_id, ip_address, created_at)
    VALUES (:name, :email, :message, :user_id, :ip_address, :now)
    RETURNING id
)
INSERT INTO outbound_emails (to_address, reply_to, template, context, status, attempts,
                             next_attempt_at, enqueued_at, created_at, updated_at)
SELECT email.to_address, email.reply_to, email.template,
       (email.context || jsonb_build_object('contact_id', message.id))::json,
       '{EmailStatus.QUEUED}', 0, :now, :now, :now, :now
FROM message,
     jsonb_to_recordset(CAST(:emails AS jsonb))
         AS email(to_address text, reply_to text, template text, context jsonb)
RETURNING id
""")


def submit_message(
    *,
    name: str,
    email: str,
    message: str,
    user_id: int | None,
    ip_address: str | None,
    acknowledge: bool,
) -> None:
    """Store the message and email it to us, and acknowledge it if `acknowledge` (the
    recipient's allowance had room); the delivery tasks go out after the caller's commit."""
    fields = {
        "name": name,
        "email": email,
        "message": message,
        "user_id": user_id,
        "ip_address": ip_address,
    }
    emails = [message_to_us(name, email, message)]
    if acknowledge:
        emails.append(acknowledgement(email))
    if db.engine.dialect.name == "postgresql":
        autocommit_if_idle()
        parameters = {**fields, "now": now_utc(), "emails": json.dumps(list(map(_row, emails)))}
        for email_id in db.session.execute(STORE_WITH_EMAILS, parameters).scalars():
            enqueue_after_commit(deliver_outbound_email, email_id)
        return
    contact = store_message(**fields)
    send_bulk([{**outbound, "contact_id": contact.id} for outbound in emails])


def _row(email: dict) -> dict:
    context = dict(email)
    return {
        "to_address": context.pop("to"),
        "reply_to": context.pop("reply_to", None),
        "template": context.pop("template"),
        "context": context,
    }


def store_message(
    *, name: str, email: str, message: str, user_id: int | None, ip_address: str | None
) -> ContactMessage:
    contact = ContactMessage(
        name=name, email=email, message=message, user_id=user_id, ip_address=ip_address
    )
    db.session.add(contact)
    db.session.flush()
    return contact


def message_to_us(name: str, email: str, message: str) -> dict:
    """Everything the visitor wrote, to CONTACT_RECIPIENT, with Reply-To: the visitor."""
    return {
        "to": current_app.config["CONTACT_RECIPIENT"],
        "template": "contact_message",
        "reply_to": email,
        "name": name,
        "email": email,
        "message": message,
    }


def acknowledgement(email: str) -> dict:
    """A fixed text: anyone may type any address in the form, so nothing the visitor wrote (name,
    message) goes into it, or it would carry their words from our address to anyone. The
    message's id (added beside it), which the template does not show, links it to the message
    in the console."""
    return {"to": email, "template": "contact_acknowledgement"}


def notifications(contact: ContactMessage) -> list[dict]:
    """Both emails a message may cause, without the acknowledgement's limit (bench variants)."""
    emails = [message_to_us(contact.name, contact.email, contact.message)]
    return [
        {**email, "contact_id": contact.id} for email in [*emails, acknowledgement(contact.email)]
    ]


def acknowledgement_allowance(email: str) -> list[tuple]:
    """The acknowledgement's allowance (CONTACT_ACK_LIMIT_PER_RECIPIENT) for Limiter.take, keyed
    on the address as accounts normalise it (look-alike spellings share one); none for an
    address accounts refuse, which then gets no acknowledgement: it is a courtesy."""
    try:
        recipient = normalize_email(email)
    except AccountError:
        return []
    return [
        (current_app.config["CONTACT_ACK_LIMIT_PER_RECIPIENT"], ACKNOWLEDGEMENT_SCOPE, recipient)
    ]
