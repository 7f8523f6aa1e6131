"""The outbox sweep inside each worker process, every MAIL_SWEEP_INTERVAL seconds when that is
set (> 0); otherwise the scheduler's sweep_outbox job does it every minute."""

import logging
import threading

from saas.extensions import db
from saas.jobs.outage import Outage, reset_session
from saas.mail import services

log = logging.getLogger(__name__)


def sweep_once(app) -> dict[str, int]:
    with app.app_context():
        try:
            counts = services.sweep()
            db.session.commit()
        finally:
            reset_session()
    if any(counts.values()):
        log.info("Outbox sweep: %s", counts)
    return counts


def guarded_sweep(app, outage: Outage) -> float:
    """One sweep that cannot end the thread; returns the wait before the next."""
    try:
        sweep_once(app)
    except Exception as error:
        return outage.failed(error)
    outage.recovered()
    return app.config["MAIL_SWEEP_INTERVAL"]


def start_sweeper(app) -> threading.Thread | None:
    """A daemon thread; several workers may sweep at once, the claim keeps sends single."""
    interval = app.config["MAIL_SWEEP_INTERVAL"]
    if interval <= 0:
        return None
    stop = threading.Event()
    outage = Outage("Outbox sweep", log, base=interval, cap=app.config["OUTAGE_BACKOFF_CAP"])

    def loop() -> None:
        wait = interval
        while not stop.wait(wait):
            wait = guarded_sweep(app, outage)

    thread = threading.Thread(target=loop, name="outbox-sweeper", daemon=True)
    thread.start()
    return thread
