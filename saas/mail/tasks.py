"""The worker task that delivers one outbox row."""

import logging

from saas.extensions import db, huey
from saas.mail import outbox
from saas.mail.transport import deliver

log = logging.getLogger(__name__)


@huey.task()
def deliver_outbound_email(email_id: int) -> str | None:
    email = outbox.claim(email_id)
    db.session.commit()
    if email is None:
        return None  # sent, failed or held by another worker: nothing to do
    try:
        message = outbox.prepare(email)
        db.session.commit()  # hold no database connection while waiting on SMTP
        destination = deliver(message)
    except Exception as error:
        retry_in = outbox.record_failure(email, error)
        db.session.commit()
        if retry_in is None:
            log.error("Email %s failed for good: %s", email_id, email.last_error)
        else:
            log.warning("Email %s failed (%s); retry in %.1fs", email_id, error, retry_in)
            deliver_outbound_email.schedule((email_id,), delay=retry_in)
        return None
    outbox.record_sent(email)
    db.session.commit()
    log.info(
        "Email %s (%s) to %s sent via %s", email_id, email.template, email.to_address, destination
    )
    return destination
