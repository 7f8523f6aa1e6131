"""Consumer entry point: `huey_consumer saas.worker.huey`. Builds the app, imports every task."""

import saas.features  # noqa: F401 - every feature's tasks, registered before the consumer starts
from saas import create_app
from saas.extensions import huey
from saas.jobs.heartbeat import start_heartbeat_thread
from saas.mail import outbox
from saas.mail.rendering import load_email_templates
from saas.mail.sweeper import start_sweeper

app = create_app()
load_email_templates(app)
with app.app_context():
    outbox.prime()
start_heartbeat_thread(app, "worker", running=huey.threads_busy)
start_sweeper(app)  # only when MAIL_SWEEP_INTERVAL is set; the scheduler sweeps otherwise

__all__ = ["app", "huey"]
