"""Worker tasks that render and deliver email."""

import logging

from saas.extensions import huey
from saas.mail.rendering import render_email
from saas.mail.transport import build_message, deliver

log = logging.getLogger(__name__)


@huey.task(retries=5, retry_delay=4)
def deliver_email(to: str, template: str, context: dict, reply_to: str | None = None) -> str:
    rendered = render_email(template, context)
    destination = deliver(build_message(to=to, rendered=rendered, reply_to=reply_to))
    log.info("Delivered %r to %s via %s", template, to, destination)
    return destination
