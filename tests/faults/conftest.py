"""Fixtures of the fault tests: a PostgreSQL cluster and a Redis server of the test's own, to stop
and restart."""

import pytest

from tests.support.private_postgres import PrivatePostgres
from tests.support.private_redis import PrivateRedis


@pytest.fixture
def private_postgres():
    """A started cluster on its own port; stopped and removed at the end, even when the test
    (or the start itself) fails."""
    with PrivatePostgres() as cluster:
        cluster.start()
        yield cluster


@pytest.fixture
def private_redis():
    """A started Redis on its own port; stopped and removed at the end."""
    with PrivateRedis() as server:
        server.start()
        yield server
