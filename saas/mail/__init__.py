"""The one way the product sends email."""

from saas.mail import tasks  # registers the delivery task with the worker
from saas.mail.services import send_bulk, send_email

__all__ = ["send_bulk", "send_email", "tasks"]
