"""The mail server refuses connections for 120 s while 300 contact forms are posted (issue 11):
every form is answered and stored at once, and once the server is back every one of the 600
emails is delivered, once, none failed, none tried more than 3 times. The first sends of the
outage trip the worker's circuit breaker; after that the emails wait for a probe instead of
spending attempts. The worker is the Procfile's, on a PostgreSQL cluster and a Redis of the
test's own; the form is posted through the Flask test client with rate limits off
(RATELIMIT_ENABLED=false: 300 forms from one client would be refused after the first)."""

import socket
import time
from collections import Counter

import pytest

from saas.contact.models import ContactMessage
from saas.extensions import db
from saas.mail.models import OutboundEmail
from tests.support.apps import app_on_environment
from tests.support.auth import AuthActions
from tests.support.waiting import wait_until

SUBMISSIONS = 300
PACE = 0.4  # seconds between submissions: 120 s of them
OUTAGE_STARTS = 15.0  # seconds after the first submission
OUTAGE = 120.0  # the number
DELIVERED_WITHIN = 30.0  # seconds after the server is back
MAX_ATTEMPTS = 3


@pytest.fixture
def outage_env(app_env, private_postgres, private_redis, monkeypatch) -> dict:
    """The private database and queue for the worker and for this process; the real mail
    retry settings (4 s base, 5 quick tries, probe every 5 s), the worker sweeping too."""
    env = {
        "DATABASE_URL": private_postgres.create_database("saas_smtp_outage"),
        "REDIS_URL": private_redis.url(),
        "RATELIMIT_ENABLED": "false",
        "MAIL_SWEEP_INTERVAL": "10",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def outage_app(outage_env):
    with app_on_environment() as app:
        yield app


def rows(app) -> list[OutboundEmail]:
    with app.app_context():
        query = db.select(OutboundEmail).order_by(OutboundEmail.id)
        return db.session.execute(query).scalars().all()


def stored_messages(app) -> int:
    with app.app_context():
        return db.session.execute(db.select(db.func.count(ContactMessage.id))).scalar_one()


def refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def submit(auth: AuthActions, number: int) -> int:
    fields = {"name": f"Visitor {number}", "email": f"visitor{number}@example.com"}
    response = auth.post("/contact", {**fields, "message": "Hello"}, token_from="/contact")
    return response.status_code


def post_through_an_outage(auth: AuthActions, mailbox) -> dict:
    """Post the forms on a steady pace, the server stopping OUTAGE_STARTS s in and coming back
    OUTAGE s later; returns the answers and what was delivered during the outage."""
    statuses, start = Counter(), time.monotonic()
    down_at = None
    for number in range(SUBMISSIONS):
        time.sleep(max(0.0, start + number * PACE - time.monotonic()))
        if down_at is None and time.monotonic() - start >= OUTAGE_STARTS:
            mailbox.stop()
            down_at, before = time.monotonic(), len(mailbox.messages)
            assert refuses(mailbox.port)
        statuses[submit(auth, number)] += 1
    time.sleep(max(0.0, down_at + OUTAGE - time.monotonic()))
    during = len(mailbox.messages) - before
    mailbox.restart()
    return {"statuses": statuses, "before": before, "during": during, "back_at": time.monotonic()}


def test_smtp_refusing_for_120_s_loses_fails_and_doubles_nothing(
    outage_env, outage_app, mailbox, start_worker
):
    worker = start_worker(**outage_env)
    auth = AuthActions(outage_app.test_client())
    outage = post_through_an_outage(auth, mailbox)
    assert outage["statuses"] == {303: SUBMISSIONS}
    assert stored_messages(outage_app) == SUBMISSIONS
    assert outage["during"] == 0 and outage["before"] > 0
    waiting = sum(email.status != "sent" for email in rows(outage_app))

    messages = mailbox.wait_for(2 * SUBMISSIONS, timeout=DELIVERED_WITHIN)
    recovery = time.monotonic() - outage["back_at"]
    wait_until(lambda: {e.status for e in rows(outage_app)} == {"sent"}, timeout=10)
    emails = rows(outage_app)
    received = [message["Message-ID"] for message in messages]
    attempts = Counter(email.attempts for email in emails)
    print(
        f"SMTP refused {OUTAGE:.0f} s: {SUBMISSIONS} forms answered 303, {waiting} emails waited,"
        f" {len(received)} delivered ({len(received) - len(set(received))} twice), "
        f"attempts {dict(sorted(attempts.items()))}, all delivered {recovery:.1f} s after"
    )
    assert len(emails) == 2 * SUBMISSIONS and waiting > 400
    assert len(received) == len(set(received)) == 2 * SUBMISSIONS
    assert set(received) == {email.message_id for email in emails}
    assert max(attempts) <= MAX_ATTEMPTS
    assert attempts[2] > 0  # the outage was met by sends, not only by waiting emails
    assert worker.poll() is None
