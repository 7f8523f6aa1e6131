"""Turns: a worker process's threads do the CPU part of a short task two at a time.

The threads of one process share one GIL, and each hands it on at every round trip. When a
backlog wakes fifty of them at once, they all advance together and all reach their long wait
(an SMTP server's answer to the message) at the end of the burst; they come back together
too, and every task waits out the whole burst again, cycle after cycle. Taking turns, they
finish their CPU part one after another, so their waits, and their returns, spread out.

A task holds its turn through its round trips to the database, which is near, and gives it up
while it waits on the SMTP server, which may be far (`while_waiting`); coming back, it takes
the next free turn before any task that has not started, so work in progress finishes first.
A thread waits at most `MAX_WAIT` for a turn, then runs without one: a turn held by a thread
stuck on a network failure slows the others by that much, never stops them."""

import heapq
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager

TURNS = 2  # one thread's round trip overlaps another's CPU
MAX_WAIT = 0.25  # seconds; the last of a cold burst of fifty waited 0.15 s (bench.drain)
RETURNING, STARTING = 0, 1  # who gets a free turn first


class Turns:
    def __init__(self, turns: int = TURNS, max_wait: float = MAX_WAIT):
        self.max_wait = max_wait
        self._lock = threading.Lock()
        self._turns = self._free = turns
        self._waiting: list[tuple[int, int, threading.Event]] = []  # a heap: priority, order
        self._order = itertools.count()
        self._thread = threading.local()

    def holding(self) -> bool:
        """Whether this thread holds a turn now."""
        return getattr(self._thread, "turn", False)

    def taken(self) -> int:
        """How many turns are held now, by any thread."""
        with self._lock:
            return self._turns - self._free

    def waiting(self) -> int:
        """How many threads wait for a turn now."""
        with self._lock:
            return len(self._waiting)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Run the block in a turn (or without one after MAX_WAIT); nested blocks share it."""
        if getattr(self._thread, "inside", False):
            yield
            return
        self._thread.inside = True
        self._thread.turn = self._take(STARTING)
        try:
            yield
        finally:
            if self._thread.turn:
                self._give_back()
            self._thread.turn = self._thread.inside = False

    @contextmanager
    def while_waiting(self) -> Iterator[None]:
        """Give this thread's turn to another during a long wait; take one back after it."""
        if not self.holding():
            yield
            return
        self._give_back()
        self._thread.turn = False
        try:
            yield
        finally:
            self._thread.turn = self._take(RETURNING)

    def _take(self, priority: int) -> bool:
        with self._lock:
            if self._free:  # never while threads wait: a turn given back goes to the first
                self._free -= 1
                return True
            handed = threading.Event()
            heapq.heappush(self._waiting, (priority, next(self._order), handed))
        if handed.wait(self.max_wait):
            return True
        with self._lock:
            if handed.is_set():  # handed over just as the wait ran out
                return True
            self._waiting.remove(next(w for w in self._waiting if w[2] is handed))
            heapq.heapify(self._waiting)
            return False

    def _give_back(self) -> None:
        with self._lock:
            if self._waiting:
                heapq.heappop(self._waiting)[2].set()  # straight to the first in line
            else:
                self._free += 1


# The one set of turns of this process (a worker's consumer threads).
worker_turns = Turns()
