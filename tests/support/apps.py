"""An app on the environment a test set up (its own servers), disposed of afterwards."""

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from saas import create_app
from saas.extensions import db


@contextmanager
def app_on_environment() -> Iterator[Flask]:
    app = create_app({"TESTING": True})
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
