"""Email that is never lost: the outbox with the real consumer and a real SMTP server."""

import signal
import time
from datetime import timedelta

import pytest

from saas.database import now_utc
from saas.extensions import db, huey
from saas.jobs import lifecycle
from saas.jobs.retry import PermanentError, RetryPolicy, TransientError
from saas.mail import outbox, send_email
from saas.mail.models import EMAILS, OutboundEmail
from tests.support.auth import AuthActions
from tests.support.waiting import wait_until

FAST_RETRIES = {"MAIL_RETRY_BASE": "0.3", "MAIL_RETRY_CAP": "2"}
FAST_SWEEP = {"MAIL_SWEEP_INTERVAL": "0.3", "MAIL_SWEEP_GRACE": "0.5", "MAIL_SEND_LEASE": "2"}
GOOD = {"name": "Ada", "email": "ada@example.com", "message": "Hello"}


def submit_contact(auth: AuthActions, **fields):
    response = auth.post("/contact", {**GOOD, **fields}, token_from="/contact")
    assert response.status_code == 303


def emails(app) -> list[OutboundEmail]:
    with app.app_context():
        return (
            db.session.execute(db.select(OutboundEmail).order_by(OutboundEmail.id)).scalars().all()
        )


def test_retry_policy_backs_off_exponentially_with_equal_jitter_and_a_cap():
    policy = RetryPolicy(retries=5, base=4, cap=50)
    assert [policy.backoff(n) for n in range(1, 6)] == [4, 8, 16, 32, 50]
    delays = [policy.delay(3) for _ in range(500)]
    assert all(8 <= delay <= 16 for delay in delays)  # at least half of each backoff is kept
    assert min(delays) < 9 and max(delays) > 15  # and the rest is spread
    assert policy.retry_delay(5, TimeoutError()) is not None
    assert policy.retry_delay(6, TimeoutError()) is None  # the budget is spent
    assert policy.retry_delay(1, PermanentError("550")) is None
    assert policy.retry_delay(1, TransientError("429", retry_after=90)) >= 90
    assert policy.final_reason(TimeoutError()) is None  # quick tries only: the error says it


def test_a_time_budget_keeps_transient_failures_retrying_at_the_cap_until_it_runs_out():
    day = 24 * 3600
    policy = RetryPolicy(retries=5, base=4, cap=300, retry_for=day)
    assert 64 <= policy.retry_delay(6, TimeoutError(), age=3600) <= 128  # backing off on
    assert 150 <= policy.retry_delay(400, TimeoutError(), age=day - 1) <= 300
    assert policy.retry_delay(6, TimeoutError(), age=day) is None
    assert policy.retry_delay(6, TimeoutError()) is None  # no age: the quick tries only
    assert policy.retry_delay(2, TimeoutError(), age=2 * day) is not None  # quick tries first
    assert policy.retry_delay(1, PermanentError("550"), age=0) is None
    assert policy.final_reason(TimeoutError()) == "gave up after 24 h of transient failures"
    assert policy.final_reason(PermanentError("550")) is None


def test_smtp_down_costs_no_attempts_until_a_probe_connects(app, auth, mailbox, start_worker):
    """The first sends find the server refusing and trip the breaker; after that the emails
    wait without attempts (the quick retries would be spent in 2.5 s) until a probe connects."""
    mailbox.stop()
    start_worker(MAIL_RETRY_BASE="0.2", MAIL_RETRY_CAP="0.5", MAIL_PROBE_INTERVAL="0.5")
    submit_contact(auth)
    wait_until(lambda: any(e.attempts for e in emails(app)))
    time.sleep(3)
    assert {e.status for e in emails(app)} <= {"queued", "retrying"}
    assert [e.attempts for e in emails(app)] in ([1, 1], [1, 0], [0, 1])
    tried = [e for e in emails(app) if e.attempts]
    assert all("TransportDown: ConnectionRefusedError" in e.last_error for e in tried)
    mailbox.restart()
    messages = mailbox.wait_for(2, timeout=30)
    wait_until(lambda: {e.status for e in emails(app)} == {"sent"})
    assert sorted(m["To"] for m in messages) == ["ada@example.com", "support@saas.test"]
    assert all(e.attempts <= 2 for e in emails(app))


def test_transient_failures_go_on_after_the_quick_tries_until_the_email_is_too_old(
    app, mailbox, start_worker
):
    mailbox.deferred.add("user1@example.com")  # answered 451, try again later, every time
    budget = {"MAIL_RETRIES": "1", "MAIL_RETRY_FOR": "5"}
    start_worker(**budget, MAIL_RETRY_BASE="0.1", MAIL_RETRY_CAP="0.3")
    queue_emails(app, 1)
    wait_until(lambda: emails(app)[0].status == "sent")  # the worker is up
    queue_emails(app, 1, start=1)
    wait_until(lambda: emails(app)[1].status == "failed", timeout=20)
    email = emails(app)[1]
    assert email.attempts >= 3  # past the one quick retry (the consumer schedules each second)
    assert (email.updated_at - email.created_at).total_seconds() >= 5
    reason = "gave up after 5 s of transient failures: TransientError: SMTP 451"
    assert email.last_error.startswith(reason)


def test_the_sweep_applies_the_time_budget_to_an_email_whose_worker_was_lost(app, runner):
    """Past the quick tries, a lost attempt is retried while the email is younger than
    MAIL_RETRY_FOR (24 h by default), and failed, saying why, once it is older."""
    queue_emails(app, 2)
    with app.app_context():
        now = now_utc()
        rows = db.session.execute(db.select(OutboundEmail).order_by(OutboundEmail.id)).scalars()
        for email, age in zip(rows, (timedelta(hours=23), timedelta(hours=25)), strict=True):
            email.status, email.attempts, email.created_at = "sending", 9, now - age
            email.lease_expires_at = now - timedelta(seconds=1)
        db.session.commit()
    result = runner.invoke(args=["mail", "sweep"])
    assert "took back 1" in result.output
    young, old = emails(app)
    assert (young.status, old.status) == ("retrying", "failed")
    assert old.last_error == (
        "gave up after 24 h of transient failures: "
        "the worker was lost during this attempt (its lease expired)"
    )


def test_permanent_rejection_fails_at_once_and_mail_retry_sends_it(
    app, auth, mailbox, start_worker, runner
):
    mailbox.rejected.add("ada@example.com")
    start_worker(**FAST_RETRIES)
    submit_contact(auth)
    wait_until(lambda: {e.status for e in emails(app)} == {"sent", "failed"})
    [failed] = [e for e in emails(app) if e.status == "failed"]
    assert failed.attempts == 1
    assert "SMTP 550" in failed.last_error
    listed = runner.invoke(args=["mail", "failed"]).output
    assert listed.startswith(
        f"{failed.id}\tada@example.com\tcontact_acknowledgement\t1 attempt(s)\t"
    )
    assert "PermanentError: SMTP 550" in listed
    mailbox.rejected.clear()
    result = runner.invoke(args=["mail", "retry", str(failed.id)])
    assert result.exit_code == 0, result.output
    wait_until(lambda: {e.status for e in emails(app)} == {"sent"})
    assert runner.invoke(args=["mail", "failed"]).output == "No failed emails.\n"
    assert "ada@example.com" in [m["To"] for m in mailbox.wait_for(2)]


def test_mail_retry_refuses_an_unknown_id(runner):
    result = runner.invoke(args=["mail", "retry", "999"])
    assert result.exit_code != 0
    assert "No failed email with id 999" in result.output


def test_worker_killed_mid_send_is_recovered_by_the_sweep(app, auth, mailbox, start_worker):
    mailbox.rcpt_pause = 30
    worker = start_worker(**FAST_SWEEP)
    submit_contact(auth)
    wait_until(lambda: any(e.status == "sending" for e in emails(app)))
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    assert mailbox.messages == []
    mailbox.rcpt_pause = 0
    start_worker(**FAST_SWEEP)
    messages = mailbox.wait_for(2, timeout=30)
    wait_until(lambda: {e.status for e in emails(app)} == {"sent"})
    assert len({m["Message-ID"] for m in messages}) == 2


def test_queue_wiped_after_enqueue_is_recovered_by_the_sweep(app, auth, mailbox, start_worker):
    submit_contact(auth)
    assert huey.pending_count() == 2
    huey.flush()  # what FLUSHALL or a Redis restart without persistence does to this queue
    assert huey.pending_count() == 0
    start_worker(**FAST_SWEEP)
    messages = mailbox.wait_for(2, timeout=30)
    wait_until(lambda: {e.status for e in emails(app)} == {"sent"})
    assert sorted(m["To"] for m in messages) == ["ada@example.com", "support@saas.test"]


@pytest.mark.app_config(MAIL_SWEEP_GRACE=0)
def test_mail_sweep_command_requeues_lost_rows(app, auth, runner, run_queued_tasks, mailbox):
    submit_contact(auth)
    huey.flush()
    result = runner.invoke(args=["mail", "sweep"])
    assert "Re-enqueued 2" in result.output
    assert run_queued_tasks() == 2
    assert len(mailbox.wait_for(2)) == 2


def queue_emails(app, count: int, start: int = 0) -> None:
    with app.app_context():
        for number in range(start, start + count):
            send_email(to=f"user{number}@example.com", template="password_changed")
        db.session.commit()


def test_a_worker_thread_reuses_its_smtp_connection_and_replaces_a_dropped_one(
    app, mailbox, start_worker
):
    start_worker(WORKER_CONCURRENCY="1")
    queue_emails(app, 3)
    mailbox.wait_for(3)
    assert len(set(mailbox.peers)) == 1
    mailbox.stop()  # the server goes away and drops the kept connection
    mailbox.restart()
    queue_emails(app, 1, start=3)
    mailbox.wait_for(4)
    assert mailbox.peers[3] != mailbox.peers[0]
    wait_until(lambda: {e.status for e in emails(app)} == {"sent"})
    assert [e.attempts for e in emails(app)] == [1, 1, 1, 1]


@pytest.mark.app_config(MAIL_KEEPALIVE=0)
def test_keepalive_zero_opens_a_connection_per_email(app, mailbox, run_queued_tasks):
    queue_emails(app, 2)
    assert run_queued_tasks() == 2
    mailbox.wait_for(2)
    assert len(set(mailbox.peers)) == 2


def sent_count(app) -> int:
    with app.app_context():
        return db.session.execute(
            db.select(db.func.count()).where(OutboundEmail.status == "sent")
        ).scalar_one()


@pytest.mark.parametrize("threads", [1, 8])
def test_a_thousand_emails_survive_repeated_worker_kills(app, mailbox, start_worker, threads):
    """SIGKILL loses nothing. A duplicate needs the server to have taken the message while the
    worker had not yet marked it sent, so each kill duplicates at most one email per thread."""
    total, kills = 1000, 0
    queue_emails(app, total)
    worker = start_worker(**FAST_SWEEP, WORKER_CONCURRENCY=str(threads))
    for delivered in (150, 350, 550, 750):
        wait_until(lambda target=delivered: len(mailbox.messages) >= target, timeout=60)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        kills += 1
        worker = start_worker(**FAST_SWEEP, WORKER_CONCURRENCY=str(threads))
    wait_until(lambda: sent_count(app) == total, timeout=120)
    rows = emails(app)
    received = [m["Message-ID"] for m in mailbox.messages]
    assert sorted({m["To"] for m in mailbox.messages}) == sorted(e.to_address for e in rows)
    assert set(received) == {e.message_id for e in rows}
    duplicates = len(received) - len(set(received))
    print(f"{threads} threads: {total} emails, {kills} kills, {duplicates} duplicates")
    assert duplicates <= kills * threads


def test_a_send_holds_no_database_connection(app, mailbox, run_queued_tasks, monkeypatch):
    """The claim and the outcome each check a connection out and give it back: while the SMTP
    server takes its time, the thread holds none, so 50 sending threads need a few."""
    with app.app_context():
        pool = db.engine.pool
    held_during_sends = []
    accept = mailbox.handle_DATA

    async def handle_data(server, session, envelope):
        held_during_sends.append(pool.checkedout())
        return await accept(server, session, envelope)

    monkeypatch.setattr(mailbox, "handle_DATA", handle_data)
    queue_emails(app, 2)
    assert run_queued_tasks() == 2
    assert held_during_sends == [0, 0]
    assert {email.status for email in emails(app)} == {"sent"}


def test_an_attempts_bookkeeping_skips_the_fsync_on_sqlite_and_pools_back_full_sync(app):
    """synchronous=NORMAL only for the autocommit transitions (a power loss may repeat an
    attempt, never lose a row); every other write, e.g. the contact form's, keeps FULL."""
    with app.app_context():
        with lifecycle.autocommit_cursor() as cursor:
            if db.engine.dialect.name == "postgresql":  # commits as the server is configured
                cursor.execute("SHOW synchronous_commit")
                assert cursor.fetchone()[0] == "on"
                return
            assert cursor.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
            raw = cursor.connection
        assert raw.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL, back in the pool


def test_priming_compiles_every_statement_of_a_delivery_and_changes_no_row(
    app, mailbox, run_queued_tasks, monkeypatch
):
    """A worker primes the outbox as it starts, so its first burst compiles nothing."""
    monkeypatch.setattr(EMAILS, "statements", {})
    monkeypatch.setattr(EMAILS, "compiled", {})
    queue_emails(app, 1)
    with app.app_context():
        outbox.prime()
    primed = dict(EMAILS.compiled)
    assert {key[1] for key in primed} == {"claim", "finish"}
    [email] = emails(app)
    assert (email.status, email.attempts) == ("queued", 0)

    assert run_queued_tasks() == 1
    mailbox.wait_for(1)
    assert EMAILS.compiled == primed  # the delivery ran the primed statements, no other
    assert [(e.status, e.attempts) for e in emails(app)] == [("sent", 1)]
