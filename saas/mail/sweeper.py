"""The outbox sweep inside each worker process, every MAIL_SWEEP_INTERVAL seconds when that is
set (> 0); otherwise the scheduler's sweep_outbox job does it every minute."""

import logging
import threading

from saas.extensions import db
from saas.mail import services

log = logging.getLogger(__name__)


def sweep_once(app) -> dict[str, int]:
    with app.app_context():
        try:
            counts = services.sweep()
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
    if any(counts.values()):
        log.info("Outbox sweep: %s", counts)
    return counts


def start_sweeper(app) -> threading.Thread | None:
    """A daemon thread; several workers may sweep at once, the claim keeps sends single."""
    interval = app.config["MAIL_SWEEP_INTERVAL"]
    if interval <= 0:
        return None
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                sweep_once(app)
            except Exception:
                log.exception("Outbox sweep failed; trying again in %ss", interval)

    thread = threading.Thread(target=loop, name="outbox-sweeper", daemon=True)
    thread.start()
    return thread
