"""Consumer entry point: `huey_consumer saas.worker.huey`. Builds the app and imports every task."""

import saas.mail.tasks  # noqa: F401 - registers its tasks with the consumer
from saas import create_app
from saas.extensions import huey

app = create_app()

__all__ = ["app", "huey"]
