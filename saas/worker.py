"""Consumer entry point: `huey_consumer saas.worker.huey`. Builds the app, imports every task."""

import logging

import saas.mail.tasks  # noqa: F401 - registers its tasks with the consumer
from saas import create_app
from saas.extensions import huey
from saas.mail.sweeper import start_sweeper

app = create_app()
# The consumer gives the "huey" logger a handler of its own; don't print each line twice.
logging.getLogger("huey").propagate = False
# Until the scheduler exists, each worker process sweeps the outbox itself.
start_sweeper(app)

__all__ = ["app", "huey"]
