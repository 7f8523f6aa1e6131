"""/contact and three variants of it for bench.contact_load: the same form, CSRF and rate
limits, differing only in what a valid submission does about its two emails.

- /contact: the product (outbox rows in the request's transaction, tasks enqueued after commit);
- /bench/contact/no-email: (a) the message is stored, no email at all: the ceiling;
- /bench/contact/huey: (b) a plain Huey task per email, no outbox row: what durability costs;
- /bench/contact/sync: (c) both emails sent over SMTP inside the request: the "before".

    gunicorn "bench.contact_variants:create_app()"
"""

from flask import Blueprint

from saas import create_app as create_saas_app
from saas.contact import services
from saas.contact.views import contact_limits, handle_contact_form
from saas.extensions import huey
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


def store_only(**fields) -> None:
    services.store_message(**fields)


def store_and_enqueue(**fields) -> None:
    contact = services.store_message(**fields)
    for notification in services.notifications(contact):
        enqueue_after_commit(send_email_from_queue, notification)


def store_and_send(**fields) -> None:
    contact = services.store_message(**fields)
    for notification in services.notifications(contact):
        send_now(notification)


@bp.route("/no-email", methods=["GET", "POST"])
@contact_limits
def no_email():
    return handle_contact_form(store_only)


@bp.route("/huey", methods=["GET", "POST"])
@contact_limits
def plain_huey():
    return handle_contact_form(store_and_enqueue)


@bp.route("/sync", methods=["GET", "POST"])
@contact_limits
def synchronous():
    return handle_contact_form(store_and_send)


def create_app():
    app = create_saas_app()
    app.register_blueprint(bp)
    return app
