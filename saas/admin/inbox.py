"""/admin/contact: contact-form messages, newest first in pages by id, each with the state of
its two emails (the message to us, the acknowledgement to the sender, which the per-recipient
limit may have withheld); filtered by the sender's address."""

from datetime import timedelta

from flask import render_template

from saas.admin.console import admin_required, bp
from saas.admin.listing import address, page
from saas.contact.models import ContactMessage
from saas.extensions import db
from saas.mail.models import OutboundEmail

# The templates of a message's two emails (saas/contact/services.py), each with its contact_id.
TO_US, ACKNOWLEDGEMENT = "contact_message", "contact_acknowledgement"
SPAN = timedelta(minutes=10)  # between a message's row and its emails', however slow the request


def emails_of(messages: list[ContactMessage]) -> dict[tuple[int, str], OutboundEmail]:
    """(contact id, template) -> the email, for the messages of one page. A message's emails are
    written in its own transaction, so they are looked for in the page's time span (the
    (template, created_at) index) rather than by the id inside their JSON context, which no
    index covers on every backend."""
    if not messages:
        return {}
    contact_id = OutboundEmail.context["contact_id"].as_integer()
    created = [message.created_at for message in messages]
    rows = db.session.execute(
        db.select(OutboundEmail, contact_id)
        .where(
            OutboundEmail.template.in_((TO_US, ACKNOWLEDGEMENT)),
            OutboundEmail.created_at.between(min(created) - SPAN, max(created) + SPAN),
            contact_id.in_([message.id for message in messages]),
        )
        .order_by(OutboundEmail.id)
    ).all()
    return {(owner, email.template): email for email, owner in rows}


@bp.get("/contact")
@admin_required
def contact():
    sender = address("email")
    query = db.select(ContactMessage)
    if sender:
        query = query.where(db.func.lower(ContactMessage.email) == sender.lower())
    messages, next_before = page(query, ContactMessage.id)
    return render_template(
        "admin/contact.html",
        messages=messages,
        emails=emails_of(messages),
        kinds=((TO_US, "To us"), (ACKNOWLEDGEMENT, "Acknowledgement")),
        sender=sender,
        next_before=next_before,
    )
