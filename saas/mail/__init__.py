"""The one way the product sends email."""

from saas.mail.services import send_email

__all__ = ["send_email"]
