"""The worker task that delivers one outbox row."""

import logging

from saas.jobs.lifecycle import Failure, durable_task
from saas.mail import outbox
from saas.mail.models import EMAILS, EmailStatus
from saas.mail.transport import deliver, wait_before_sending

log = logging.getLogger(__name__)


@durable_task(EMAILS, takes_turns=True)
def deliver_outbound_email(email_id: int) -> None:
    # Returns nothing: the outbox row is the record, so Huey stores no result per email.
    wait = wait_before_sending()
    if wait is not None:
        outbox.postpone(email_id, wait)  # the mail server is down: no attempt is spent
        return
    email = outbox.claim(email_id)
    if email is None:
        return  # sent, failed or held by another worker: nothing to do
    try:
        destination = deliver(outbox.prepare(email))
    except Exception as error:
        _log_failure(email_id, outbox.record_failure(email, error))
        return
    outbox.record_sent(email)
    log.info(
        "Email %s (%s) to %s sent via %s", email_id, email.template, email.to_address, destination
    )


def _log_failure(email_id: int, failure: Failure) -> None:
    if failure.status == EmailStatus.RETRYING:
        log.warning(
            "Email %s failed (%s); retry in %.1fs", email_id, failure.error, failure.retry_in
        )
    elif failure.status == EmailStatus.FAILED:
        log.error("Email %s failed for good: %s", email_id, failure.error)
    else:
        log.warning(
            "Email %s failed (%s) after another worker took it over", email_id, failure.error
        )
