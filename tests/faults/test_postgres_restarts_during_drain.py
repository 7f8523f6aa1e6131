"""PostgreSQL restarted twice (fast, then immediate) while 500 emails drain and contact forms keep
being posted (issue 11): no email is sent twice (an outcome the worker could not write is written
once the database answers, before the sweep could take the row back), none is lost, and no
request is answered 500 (it waits for the database, or gets a 503 with Retry-After). The real
web (the Procfile's gunicorn, 2 processes) and worker run on a PostgreSQL cluster of the test's
own, with Huey's SQLite queue in the test's instance folder."""

import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests

from saas.contact.models import ContactMessage
from saas.extensions import db
from saas.mail.models import OutboundEmail
from tests.support.apps import app_on_environment
from tests.support.smtp import free_port
from tests.support.waiting import wait_until

FORMS = 250  # two emails each: 500 emails
POST_EVERY = 0.08  # seconds between form posts: 25 forms (50 emails) a second, above the drain
SEND_PAUSE = 0.2  # seconds the mail server stalls each message: 8 worker threads send ~40/s
RESTARTS = (("fast", 100), ("immediate", 300))  # stop mode, after how many emails delivered
DOWN_FOR = 1.0  # seconds the server stays stopped
RESUMED = 8  # emails delivered after a restart that count as "sending again"
WEB = ("--bind 0.0.0.0:", "--bind 127.0.0.1:")
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
CLOSE = {"Connection": "close"}


@dataclass
class Post:
    index: int
    sent_at: float
    answered_at: float
    answers: list[tuple[int, str | None]]  # (status, Retry-After): 503s, then the final one


@pytest.fixture
def drain_env(app_env, private_postgres, monkeypatch) -> dict:
    """Every process (and this one) on the private database and the SQLite queue, no rate
    limits (all posts come from one address), a short lease and a quick sweep, so an email
    left `sending` would be sent again within the test."""
    env = {
        "DATABASE_URL": private_postgres.create_database("saas_drain"),
        "REDIS_URL": "",
        "RATELIMIT_ENABLED": "false",
        "WORKER_CONCURRENCY": "8",
        "MAIL_SEND_LEASE": "15",
        "MAIL_SWEEP_INTERVAL": "1",
        "MAIL_SWEEP_GRACE": "30",
        "DB_WAIT": "10",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def private_app(drain_env):
    with app_on_environment() as app:
        yield app


@pytest.fixture
def web(drain_env, start_process) -> str:
    """The Procfile's web command, 2 gunicorn processes on a free port of 127.0.0.1."""
    port = free_port()
    start_process("web", WEB, PORT=str(port), WEB_CONCURRENCY="2", WEB_THREADS="64", **drain_env)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers(f"{url}/contact"), timeout=30, interval=0.2)
    return url


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet, or still booting
        return False


class Visitors:
    """Posts the contact form over HTTP, one browser session per thread, as a visitor would:
    a 503 is posted again after its Retry-After."""

    def __init__(self, url: str):
        self.url = f"{url}/contact"
        self.local = threading.local()

    def _session(self) -> tuple[requests.Session, str]:
        if not hasattr(self.local, "session"):
            session = requests.Session()
            page = session.get(self.url, timeout=30).text
            self.local.session, self.local.token = session, TOKEN.search(page).group(1)
        return self.local.session, self.local.token

    def post(self, index: int, at: float) -> Post:
        time.sleep(max(0.0, at - time.monotonic()))
        session, token = self._session()
        form = {
            "csrf_token": token,
            "name": f"Visitor {index}",
            "email": f"visitor{index}@example.com",
            "message": f"Drain message {index}",
        }
        post = Post(index, time.monotonic(), 0.0, [])
        for _ in range(4):
            # A connection of its own: a kept-alive one, idle here longer than gunicorn keeps it
            # (2 s), can be closed by the server just as the next post goes out on it.
            answer = session.post(
                self.url, data=form, allow_redirects=False, timeout=60, headers=CLOSE
            )
            post.answers.append((answer.status_code, answer.headers.get("Retry-After")))
            if answer.status_code != 503:
                break
            time.sleep(int(answer.headers["Retry-After"]))
        post.answered_at = time.monotonic()
        return post


def restart_during_drain(private_postgres, mailbox) -> list[dict]:
    """Restart the server (each mode in turn) once enough emails are delivered; returns each
    outage's window and how long sending took to resume after the server was back."""
    outages = []
    for mode, after in RESTARTS:
        wait_until(lambda after=after: len(mailbox.messages) >= after, timeout=60)
        down_at = time.monotonic()
        private_postgres.stop(mode)
        time.sleep(DOWN_FOR)
        private_postgres.start()
        up_at, delivered = time.monotonic(), len(mailbox.messages)
        wait_until(lambda d=delivered: len(mailbox.messages) >= d + RESUMED, timeout=30)
        outages.append(
            {"mode": mode, "down": down_at, "up": up_at, "resumed": time.monotonic() - up_at}
        )
    return outages


def outbox(app) -> list[OutboundEmail]:
    with app.app_context():
        return db.session.execute(db.select(OutboundEmail)).scalars().all()


def stored_messages(app) -> list[ContactMessage]:
    with app.app_context():
        return db.session.execute(db.select(ContactMessage)).scalars().all()


def all_sent(app) -> bool:
    emails = outbox(app)
    return bool(emails) and all(email.status == "sent" for email in emails)


def during(post: Post, outages: list[dict]) -> bool:
    """The post was sent while the server was stopped or starting (or waited across it)."""
    return any(post.sent_at <= o["up"] and post.answered_at >= o["down"] for o in outages)


def test_restarts_during_a_drain_double_lose_and_fail_nothing(
    drain_env, private_postgres, private_app, mailbox, web, start_worker
):
    mailbox.rcpt_pause = SEND_PAUSE
    worker = start_worker(**drain_env)
    visitors = Visitors(web)
    start = time.monotonic() + 0.5
    with ThreadPoolExecutor(max_workers=32) as pool:
        futures = [pool.submit(visitors.post, i, start + i * POST_EVERY) for i in range(FORMS)]
        outages = restart_during_drain(private_postgres, mailbox)
        posts = [future.result() for future in futures]

    stored = stored_messages(private_app)
    mailbox.wait_for(2 * len(stored), timeout=90)
    wait_until(lambda: all_sent(private_app), timeout=30)
    time.sleep(1)  # a duplicate would arrive about now, right behind its first copy

    finals = Counter(post.answers[-1][0] for post in posts)
    answers = Counter(status for post in posts for status, _ in post.answers)
    waited = [post for post in posts if during(post, outages)]
    report = f"answers {dict(answers)}, outages {outages}"
    assert answers.keys() <= {303, 503}, report  # never a 500, or anything else
    retry_after = {after for post in posts for status, after in post.answers if status == 503}
    assert retry_after <= {"5"}, report
    assert finals == {303: FORMS}, report  # each visitor got through, at most after a retry
    assert len(waited) >= 2, report  # posts did arrive while the database was down
    stored_emails = Counter(message.email for message in stored)
    assert set(stored_emails) == {f"visitor{i}@example.com" for i in range(FORMS)}, report
    message_ids = Counter(message["Message-ID"] for message in mailbox.messages)
    assert max(message_ids.values()) == 1, [m for m, n in message_ids.items() if n > 1]
    assert len(mailbox.messages) == 2 * len(stored) >= 2 * FORMS, report
    assert {email.message_id for email in outbox(private_app)} == set(message_ids)
    delivered_to = Counter(message["To"] for message in mailbox.messages)
    assert all(delivered_to[email] == count for email, count in stored_emails.items())
    assert worker.poll() is None
    # The restarts did catch emails between the mail server's answer and their outcome: these
    # were taken while the database was down, and each was marked sent once, when it was back
    # (the outcome's connection waited for it, or a write broken under it was made again).
    caught = [at for at in mailbox.arrived_at if any(o["down"] <= at <= o["up"] for o in outages)]
    assert caught, report
    print(f"\n{report}\nwaited {len(waited)} posts, longest {_longest(waited):.1f}s")


def _longest(posts: list[Post]) -> float:
    return max((post.answered_at - post.sent_at for post in posts), default=0.0)
