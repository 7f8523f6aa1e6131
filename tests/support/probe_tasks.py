"""A task the consumer tests enqueue: it reads the database and the app's config."""

import time

from flask import current_app

from saas.auth.models import User
from saas.extensions import db, huey


@huey.task()
def describe_user(user_id: int, pause: float = 0.0) -> dict:
    time.sleep(pause)
    user = db.session.get(User, user_id)
    return {"email": user.email, "queue": current_app.config["QUEUE_NAME"]}
