"""The worker task that delivers one outbox row."""

import logging

from saas.extensions import huey
from saas.mail import outbox
from saas.mail.models import FAILED, RETRYING
from saas.mail.transport import deliver

log = logging.getLogger(__name__)


@huey.task()
def deliver_outbound_email(email_id: int) -> None:
    # Returns nothing: the outbox row is the record, so Huey stores no result per email.
    with outbox.attempt_connection() as connection:
        email = outbox.claim(connection, email_id)
        if email is None:
            return  # sent, failed or held by another worker: nothing to do
        try:
            destination = deliver(outbox.prepare(email))
        except Exception as error:
            status, retry_in = outbox.record_failure(connection, email, error)
            _log_failure(email_id, error, status, retry_in)
            if status == RETRYING:
                deliver_outbound_email.schedule((email_id,), delay=retry_in)
            return
        outbox.record_sent(connection, email)
    log.info(
        "Email %s (%s) to %s sent via %s", email_id, email.template, email.to_address, destination
    )


def _log_failure(email_id: int, error: Exception, status: str | None, retry_in: float | None):
    if status == RETRYING:
        log.warning("Email %s failed (%s); retry in %.1fs", email_id, error, retry_in)
    elif status == FAILED:
        log.error("Email %s failed for good: %s: %s", email_id, type(error).__name__, error)
    else:
        log.warning("Email %s failed (%s) after another worker took it over", email_id, error)
