"""Sending email: queued in the caller's transaction, delivered by the worker after commit."""

from saas.jobs.enqueue import enqueue_after_commit
from saas.mail.tasks import deliver_email


def send_email(*, to: str, template: str, reply_to: str | None = None, **context) -> None:
    """Deliver templates/email/<template>.* to `to` from the worker once the caller commits."""
    enqueue_after_commit(deliver_email, to, template, context, reply_to=reply_to)
