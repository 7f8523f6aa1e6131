"""Consumer entry point: `huey_consumer saas.worker.huey`. Builds the app and imports every task."""

import logging

import saas.mail.tasks  # noqa: F401 - registers its tasks with the consumer
from saas import create_app
from saas.extensions import huey

app = create_app()
# The consumer gives the "huey" logger a handler of its own; don't print each line twice.
logging.getLogger("huey").propagate = False

__all__ = ["app", "huey"]
