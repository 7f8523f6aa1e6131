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
    email = outbox.claim(email_id)
    if email is None:
        return  # sent, failed or held by another worker: nothing to do
    try:
        destination = deliver(outbox.prepare(email))
    except Exception as error:
        status, retry_in = outbox.record_failure(email, error)
        if status == RETRYING:
            log.warning("Email %s failed (%s); retry in %.1fs", email_id, error, retry_in)
            deliver_outbound_email.schedule((email_id,), delay=retry_in)
        elif status == FAILED:
            log.error("Email %s failed for good: %s: %s", email_id, type(error).__name__, error)
        else:
            log.warning("Email %s failed (%s) after another worker took it over", email_id, error)
        return
    outbox.record_sent(email)
    log.info(
        "Email %s (%s) to %s sent via %s", email_id, email.template, email.to_address, destination
    )
