from datetime import timedelta

from saas.auth.models import User
from saas.database import now_utc
from saas.extensions import db


def last_seen(app):
    with app.app_context():
        return db.session.execute(db.select(User.last_seen_at)).scalar_one()


def set_last_seen(app, when):
    with app.app_context():
        db.session.execute(db.update(User).values(last_seen_at=when))
        db.session.commit()


def test_last_seen_is_written_at_most_once_per_interval(client, auth, app):
    auth.signup()
    recent = now_utc() - timedelta(seconds=30)
    set_last_seen(app, recent)
    client.get("/")
    assert last_seen(app) == recent  # within the interval: no write

    stale = now_utc() - timedelta(seconds=app.config["LAST_SEEN_INTERVAL"] + 5)
    set_last_seen(app, stale)
    client.get("/")
    assert last_seen(app) > stale + timedelta(seconds=5)
