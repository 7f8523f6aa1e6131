"""Count what one request costs in round trips: to the database (SQLAlchemy events, with the
BEGIN and COMMIT psycopg sends around a transaction's statements) and to Redis (every packed
command a redis-py connection sends: a pipeline or a script is one)."""

from contextlib import contextmanager
from dataclasses import dataclass, field

import redis.connection
from sqlalchemy import event


@dataclass
class RoundTrips:
    sql: list[str] = field(default_factory=list)  # what went over the wire, in order
    redis: list[str] = field(default_factory=list)
    _begun: bool = False
    _in_transaction: bool = False

    def begin(self, connection) -> None:
        self._begun = True

    def statement(self, connection, cursor, statement, parameters, context, executemany) -> None:
        if self._begun and not self._autocommit(connection):
            self.sql.append("BEGIN")
            self._in_transaction = True
        self._begun = False
        self.sql.append(" ".join(statement.split())[:120])

    def end(self, word: str):
        def ended(connection) -> None:
            if self._in_transaction:
                self.sql.append(word)
            self._begun = self._in_transaction = False

        return ended

    @staticmethod
    def _autocommit(connection) -> bool:
        return bool(getattr(connection.connection.dbapi_connection, "autocommit", False))


@contextmanager
def counting_round_trips(engine, monkeypatch):
    trips = RoundTrips()
    listeners = [
        ("begin", trips.begin),
        ("before_cursor_execute", trips.statement),
        ("commit", trips.end("COMMIT")),
        ("rollback", trips.end("ROLLBACK")),
    ]
    for name, listener in listeners:
        event.listen(engine, name, listener)
    send = redis.connection.AbstractConnection.send_packed_command

    def counted_send(connection, command, check_health=True):
        parts = command if isinstance(command, list) else [command]
        first = bytes(parts[0])[:80] if parts else b""
        trips.redis.append(first.decode(errors="replace").replace("\r\n", " "))
        return send(connection, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted_send)
    try:
        yield trips
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)
        monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", send)
