"""The mail transport's circuit breaker: shared by a worker's threads, one probe at a time."""

import logging
import threading
import time

import pytest

from saas.extensions import db, huey
from saas.mail import send_email
from saas.mail.breaker import Breaker
from saas.mail.models import OutboundEmail

THREADS = 16


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def race(func) -> list:
    """Call `func` from THREADS threads released at the same instant; their results."""
    barrier = threading.Barrier(THREADS)
    results = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        result = func()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return results


def test_of_many_threads_one_probes_and_the_others_wait_for_the_next_probe():
    clock = Clock()
    breaker = Breaker("127.0.0.1:25", interval=5, clock=clock)
    assert not breaker.is_down and race(breaker.begin_probe).count(True) == 0
    race(lambda: breaker.trip("ConnectionRefusedError"))
    assert breaker.is_down and race(breaker.begin_probe).count(True) == 0  # not due yet
    assert breaker.wait() == 5
    clock.now += 5
    assert race(breaker.begin_probe).count(True) == 1
    clock.now += 60  # however long the probe takes, no second one starts meanwhile
    assert race(breaker.begin_probe).count(True) == 0
    breaker.probe_failed("ConnectionRefusedError")
    assert breaker.wait() == 5 and race(breaker.begin_probe).count(True) == 0
    clock.now += 5
    assert race(breaker.begin_probe).count(True) == 1
    breaker.probe_succeeded()
    assert not breaker.is_down and race(breaker.begin_probe).count(True) == 0


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(caplog):
    clock = Clock()
    breaker = Breaker("127.0.0.1:25", interval=5, clock=clock)
    with caplog.at_level(logging.WARNING, logger="saas.mail.breaker"):
        race(lambda: breaker.trip("ConnectionRefusedError"))
        clock.now += 42
        breaker.begin_probe()
        breaker.probe_succeeded()
    assert [record.getMessage() for record in caplog.records] == [
        "Mail server 127.0.0.1:25 is down (ConnectionRefusedError); "
        "sends wait for a probe every 5s",
        "Mail server 127.0.0.1:25 is back after 42s",
    ]


def rows(app) -> list[OutboundEmail]:
    with app.app_context():
        query = db.select(OutboundEmail).order_by(OutboundEmail.id)
        return db.session.execute(query).scalars().all()


@pytest.mark.app_config(MAIL_PROBE_INTERVAL=0.5, MAIL_RETRY_BASE=0.2)
def test_while_the_server_is_down_tasks_put_their_email_back_unclaimed(
    app, mailbox, run_queued_tasks
):
    with app.app_context():
        for number in range(3):
            send_email(to=f"user{number}@example.com", template="password_changed")
        db.session.commit()
    mailbox.stop()
    run_queued_tasks()  # the three deliveries (and the tasks they schedule, set aside)
    assert [e.attempts for e in rows(app)] == [1, 0, 0]  # the first found it down
    assert [e.status for e in rows(app)] == ["retrying", "queued", "queued"]
    assert huey.scheduled_count() == 3  # one retry, two emails waiting for the probe
    mailbox.restart()
    time.sleep(0.6)
    for task in huey.read_schedule():
        huey.execute(task)
    assert len(mailbox.wait_for(3)) == 3
    assert [(e.status, e.attempts) for e in rows(app)] == [("sent", 2), ("sent", 1), ("sent", 1)]
