"""The one way the product sends email."""

from saas.mail.services import send_bulk, send_email

__all__ = ["send_bulk", "send_email"]
