"""/contact and three variants of it for bench.contact_load: the same form, CSRF and rate
limits, differing only in what a valid submission does about its two emails.

- /contact: the product (outbox rows in the request's transaction, tasks enqueued after commit);
- /bench/contact/no-email: (a) the message is stored, no email at all: the ceiling;
- /bench/contact/huey: (b) a plain Huey task per email, no outbox row: what durability costs;
- /bench/contact/sync: (c) both emails sent over SMTP inside the request: the "before";
- /bench/contact/bare: (z) no session, CSRF, rate limit or ORM: one INSERT committed, one no-op
  task enqueued, a 303: the practical limit of a request that stores a row and queues a task.

    gunicorn "bench.contact_variants:create_app()"
"""

from flask import Blueprint, redirect, request, url_for
from sqlalchemy import insert

from saas import create_app as create_saas_app
from saas.contact import services
from saas.contact.models import ContactMessage
from saas.contact.views import handle_contact_form
from saas.database import now_utc
from saas.extensions import csrf, db, huey, limiter
from saas.jobs.enqueue import enqueue_after_commit
from saas.mail.rendering import render_email
from saas.mail.transport import build_message, deliver

bp = Blueprint("bench_contact", __name__, url_prefix="/bench/contact")


def send_now(notification: dict) -> None:
    context = dict(notification)
    to, template = context.pop("to"), context.pop("template")
    reply_to = context.pop("reply_to", None)
    deliver(build_message(to=to, rendered=render_email(template, context), reply_to=reply_to))


@huey.task()
def send_email_from_queue(notification: dict) -> None:
    """The email lives only in the queue message: lost if the queue or the worker loses it."""
    send_now(notification)


@huey.task()
def bare_task(contact_id: int) -> None:
    """Does nothing: (z) measures the enqueue, not the work."""


def store_only(acknowledge: bool, **fields) -> None:
    services.store_message(**fields)


def store_and_enqueue(acknowledge: bool, **fields) -> None:
    contact = services.store_message(**fields)
    for notification in services.notifications(contact):
        enqueue_after_commit(send_email_from_queue, notification)


def store_and_send(acknowledge: bool, **fields) -> None:
    contact = services.store_message(**fields)
    for notification in services.notifications(contact):
        send_now(notification)


@bp.route("/no-email", methods=["GET", "POST"])
def no_email():
    return handle_contact_form(store_only)


@bp.route("/huey", methods=["GET", "POST"])
def plain_huey():
    return handle_contact_form(store_and_enqueue)


@bp.route("/sync", methods=["GET", "POST"])
def synchronous():
    return handle_contact_form(store_and_send)


@bp.route("/bare", methods=["POST"])
@csrf.exempt
@limiter.exempt
def bare():
    """(z): the row committed in one INSERT (its own transaction), then its task enqueued."""
    row = {
        "name": request.form.get("name", ""),
        "email": request.form.get("email", ""),
        "message": request.form.get("message", ""),
        "ip_address": request.remote_addr,
        "created_at": now_utc(),
    }
    statement = insert(ContactMessage.__table__).values(row).returning(ContactMessage.id)
    with db.engine.begin() as connection:
        contact_id = connection.execute(statement).scalar_one()
    bare_task(contact_id)
    return redirect(url_for("contact.contact"), code=303)


def create_app():
    app = create_saas_app()
    app.register_blueprint(bp)
    return app
