"""Turns (saas.jobs.turns): a worker's threads do the CPU part of a short task a few at a time,
give their turn up around a long wait, take one back before new tasks do, and never wait
longer than MAX_WAIT for one."""

import threading

import pytest

from saas.extensions import db
from saas.jobs.turns import Turns, worker_turns
from saas.mail import outbox, send_email, transport

WAIT = 5  # seconds a step of a test may take before it counts as hung


def run(target) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_at_most_two_threads_hold_a_turn_at_once():
    turns = Turns(2, max_wait=WAIT)
    inside, most, lock = [0], [0], threading.Lock()
    gate = threading.Barrier(6)

    def task():
        gate.wait(WAIT)
        with turns.turn():
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            threading.Event().wait(0.02)  # work that keeps the turn
            with lock:
                inside[0] -= 1

    threads = [run(task) for _ in range(6)]
    for thread in threads:
        thread.join(WAIT)
    assert most[0] == 2
    assert turns.taken() == 0


def test_a_thread_waiting_on_the_network_lets_another_take_its_turn():
    turns = Turns(1, max_wait=WAIT)
    waiting, other_ran, held_after = threading.Event(), threading.Event(), []

    def sender():
        with turns.turn():
            with turns.while_waiting():
                waiting.set()
                assert other_ran.wait(WAIT)  # the other task ran meanwhile, in the one turn
            held_after.append(turns.holding())

    def other():
        waiting.wait(WAIT)
        with turns.turn():
            assert turns.holding()
            other_ran.set()

    threads = [run(sender), run(other)]
    for thread in threads:
        thread.join(WAIT)
    assert other_ran.is_set()
    assert held_after == [True]  # it took a turn back once its wait was over
    assert turns.taken() == 0


def test_a_thread_back_from_its_wait_takes_the_next_turn_before_a_new_task():
    turns = Turns(1, max_wait=WAIT)
    order, in_wait, holder_in, back = [], threading.Event(), threading.Event(), threading.Event()
    release_holder = threading.Event()

    def returning():
        with turns.turn():
            with turns.while_waiting():
                in_wait.set()
                back.wait(WAIT)
            order.append("returning")

    def holder():
        in_wait.wait(WAIT)
        with turns.turn():
            holder_in.set()
            release_holder.wait(WAIT)

    def new_task():
        with turns.turn():
            order.append("new")

    threads = [run(returning), run(holder)]
    holder_in.wait(WAIT)
    threads.append(run(new_task))  # queued first ...
    _until(lambda: turns.waiting() == 1)
    back.set()  # ... then the returning thread queues behind it
    _until(lambda: turns.waiting() == 2)
    release_holder.set()
    for thread in threads:
        thread.join(WAIT)
    assert order == ["returning", "new"]


def test_a_turn_held_too_long_is_not_waited_for():
    turns = Turns(1, max_wait=0.05)
    holding, done = threading.Event(), threading.Event()

    def stuck():
        with turns.turn():
            holding.set()
            done.wait(WAIT)  # a connect that hangs

    thread = run(stuck)
    holding.wait(WAIT)
    with turns.turn():
        ran_without_one = not turns.holding()
    done.set()
    thread.join(WAIT)
    assert ran_without_one
    assert turns.taken() == 0
    with turns.turn():  # the turn given back is free again
        assert turns.holding()


def test_nested_turns_share_one_and_an_error_gives_it_back():
    turns = Turns(1, max_wait=WAIT)
    try:
        with turns.turn():
            with turns.turn():  # a durable task calling another's function: no self-deadlock
                assert turns.taken() == 1
            raise RuntimeError("the task failed")
    except RuntimeError:
        pass
    assert turns.taken() == 0
    assert not turns.holding()


def test_an_email_claims_in_a_turn_and_gives_it_up_while_the_server_answers(
    app, mailbox, run_queued_tasks, monkeypatch
):
    claimed_in_turn = []
    claim = outbox.claim

    def spied_claim(email_id):
        claimed_in_turn.append(worker_turns.holding())
        return claim(email_id)

    monkeypatch.setattr(outbox, "claim", spied_claim)
    turns_taken = _turns_taken_as_the_server_works(app, mailbox, run_queued_tasks)
    assert claimed_in_turn == [True]
    # A new session: the one sending thread held no turn while the server handled each command.
    assert turns_taken == [("EHLO", 0), ("MAIL", 0), ("RCPT", 0), ("DATA", 0)]
    assert worker_turns.taken() == 0


@pytest.mark.app_config(MAIL_KEEPALIVE=0)
def test_a_session_ended_after_its_email_quits_with_no_turn_held(app, mailbox, run_queued_tasks):
    turns_taken = _turns_taken_as_the_server_works(app, mailbox, run_queued_tasks)
    assert turns_taken == [("EHLO", 0), ("MAIL", 0), ("RCPT", 0), ("DATA", 0), ("QUIT", 0)]
    assert worker_turns.taken() == 0


def test_a_probe_of_a_server_found_down_holds_no_turn_either(app, mailbox, run_queued_tasks):
    with app.app_context():
        breaker = transport._breaker(app.config)
    breaker.trip("ConnectionRefusedError")
    breaker.next_probe_at = breaker.clock()  # the probe is due: this delivery makes it
    turns_taken = _turns_taken_as_the_server_works(app, mailbox, run_queued_tasks)
    assert not breaker.is_down
    probe = [("EHLO", 0), ("QUIT", 0)]
    assert turns_taken == [*probe, ("EHLO", 0), ("MAIL", 0), ("RCPT", 0), ("DATA", 0)]
    assert worker_turns.taken() == 0


def _turns_taken_as_the_server_works(app, mailbox, run_queued_tasks) -> list[tuple[str, int]]:
    """Send one email through the worker's task; each command the server handled, and how many
    turns were held as it did."""
    seen = []
    mailbox.on_command = lambda command: seen.append((command, worker_turns.taken()))
    with app.app_context():
        send_email(to="ada@example.com", template="password_changed")
        db.session.commit()
    assert run_queued_tasks() == 1
    assert len(mailbox.wait_for(1)) == 1
    return seen


def _until(condition) -> None:
    deadline = threading.Event()
    for _ in range(WAIT * 1000):
        if condition():
            return
        deadline.wait(0.001)
    raise AssertionError("timed out")
