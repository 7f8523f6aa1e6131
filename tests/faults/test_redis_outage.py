"""Redis stopped for 30 s (issue 11) under the real Procfile processes: the web (gunicorn, two
processes), the worker and three scheduler replicas on a compressed clock (a simulated minute a
second), on a PostgreSQL cluster and a Redis server of the test's own. While Redis is down, slots
come due and 100 contact forms are posted over HTTP. Afterwards every replica is still running,
every slot ran once, every form was answered 303 and stored, and all 200 emails arrive once."""

import http.client
import re
import signal
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from saas.contact.models import ContactMessage
from saas.extensions import db
from saas.mail.models import OutboundEmail
from tests.jobs.test_replicas import assert_each_slot_ran_once, compressed_clock, probe_runs
from tests.support.apps import app_on_environment
from tests.support.smtp import free_port
from tests.support.waiting import wait_until

OUTAGE = 30.0  # seconds Redis stays down
FORMS = 100
DELIVERED_WITHIN = 60.0  # seconds after Redis is back
WEB_APP = ('"saas:create_app()" --bind 0.0.0.0:', '"saas:create_app()" --bind 127.0.0.1:')
TOKEN = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture
def outage_env(app_env, private_postgres, private_redis, monkeypatch, tmp_path) -> dict:
    """Every process's environment on top of app_env: the private servers, the compressed clock,
    quick sweeps, and one trusted proxy hop so each visitor has an address of its own."""
    env = {
        **compressed_clock(),
        "DATABASE_URL": private_postgres.create_database("saas_redis_outage"),
        "REDIS_URL": private_redis.url(),
        "PROBE_RUN_LOG": str(tmp_path / "runs.log"),
        "PROXY_HOPS": "1",
        "WEB_CONCURRENCY": "2",
        "WEB_THREADS": "16",
        "HEARTBEAT_INTERVAL": "0.5",
        "OUTAGE_BACKOFF_CAP": "2",
        "SWEEP_GRACE": "2",
        "MAIL_SWEEP_GRACE": "2",
        "MAIL_SWEEP_INTERVAL": "1",
        "REDIS_TIMEOUT": "1",
    }
    for name in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.setenv(name, env[name])
    return env


@pytest.fixture
def private_app(outage_env):
    with app_on_environment() as app:
        yield app


@pytest.fixture
def web(outage_env, start_process) -> str:
    port = free_port()
    start_process("web", WEB_APP, PORT=str(port), **outage_env)
    wait_until(lambda: request(port, "GET", "/health") is not None, timeout=30, interval=0.2)
    return port


def request(port: int, method: str, path: str, body: str = "", headers=None):
    """(status, headers, body), or None when nothing answers on the port yet."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response, response.read()
    except OSError:
        return None
    finally:
        connection.close()


def post_contact_form(port: int, n: int) -> int:
    """A visitor of its own address loads the form and posts it; returns the POST's status."""
    address = {"X-Forwarded-For": f"10.0.{n // 250}.{n % 250 + 1}"}
    _status, response, page = request(port, "GET", "/contact", headers=address)
    cookie = response.getheader("Set-Cookie").split(";", 1)[0]
    form = {
        "csrf_token": TOKEN.search(page)[1].decode(),
        "name": f"Visitor {n}",
        "email": f"visitor{n}@example.com",
        "message": f"Message number {n} sent while Redis was down.",
    }
    headers = {**address, "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    status, _response, _body = request(
        port, "POST", "/contact", urllib.parse.urlencode(form), headers
    )
    return status


def post_forms_over(port: int, seconds: float) -> list[int]:
    """FORMS posts spread over `seconds`, at most eight at a time."""

    start = time.monotonic()

    def visit(n: int) -> int:
        time.sleep(max(0.0, start + n * seconds / FORMS - time.monotonic()))
        return post_contact_form(port, n)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(visit, range(FORMS)))


def stored(app) -> tuple[int, Counter]:
    with app.app_context():
        messages = db.session.execute(db.select(db.func.count(ContactMessage.id))).scalar_one()
        emails = db.session.execute(db.select(OutboundEmail.status)).scalars().all()
        return messages, Counter(emails)


def test_a_redis_outage_loses_and_doubles_nothing(
    private_app, private_redis, outage_env, web, start_worker, start_scheduler, mailbox
):
    start_worker(**outage_env)
    replicas = [start_scheduler(**outage_env) for _ in range(3)]
    wait_until(lambda: len(probe_runs(private_app)) >= 3, timeout=60)

    private_redis.stop()
    went_down = time.monotonic()
    statuses = post_forms_over(web, seconds=OUTAGE * 0.7)
    posting = time.monotonic() - went_down
    assert posting < OUTAGE  # every form was posted while Redis was down
    time.sleep(OUTAGE - posting)
    assert len(probe_runs(private_app)) >= 25  # slots kept coming due meanwhile
    alive_in_outage = [replica.poll() is None for replica in replicas]
    private_redis.start()
    came_back = time.monotonic()

    assert Counter(statuses) == {303: FORMS}
    assert stored(private_app)[0] == FORMS
    mailbox.wait_for(2 * FORMS, timeout=DELIVERED_WITHIN)
    recovery = time.monotonic() - came_back
    time.sleep(3)  # room for a double to show up
    print(
        f"\nRedis down {OUTAGE:.0f} s: {FORMS} forms 303, emails delivered {recovery:.1f} s after"
    )

    assert alive_in_outage == [True, True, True]
    assert all(replica.poll() is None for replica in replicas)
    for replica in replicas:
        replica.send_signal(signal.SIGTERM)
    assert [replica.wait(timeout=20) for replica in replicas] == [0, 0, 0]
    assert_each_slot_ran_once(
        private_app, Path(outage_env["PROBE_RUN_LOG"]), first_slots=int(OUTAGE)
    )
    deliveries = Counter((m["To"], m["Reply-To"], m["Subject"]) for m in mailbox.messages)
    assert len(deliveries) == 2 * FORMS and set(deliveries.values()) == {1}
    assert stored(private_app) == (FORMS, Counter({"sent": 2 * FORMS}))
