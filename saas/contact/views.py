"""GET/POST /contact."""

from collections.abc import Callable

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import TooManyRequests

from saas.contact import services
from saas.contact.forms import ContactForm
from saas.extensions import db, limiter

bp = Blueprint("contact", __name__)
THANKS = "Thanks, we'll get back to you soon"


def visitor_key() -> str:
    """One allowance per account when logged in, per address otherwise."""
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return f"ip:{request.remote_addr}"


def take_allowances(email: str) -> bool:
    """Count an accepted form against its limits, per visitor (user or IP) and a looser per IP,
    and against the acknowledgement's allowance, in one round trip: 429 with Retry-After when a
    limit is full (nothing counted); whether to acknowledge otherwise. A form with errors never
    gets here, so it counts for nothing."""
    config = current_app.config
    taken = limiter.take(
        [
            (config["CONTACT_LIMIT_PER_VISITOR"], "contact-visitor", visitor_key()),
            (config["CONTACT_LIMIT_PER_IP"], "contact-ip", request.remote_addr),
        ],
        services.acknowledgement_allowance(email),
    )
    if not taken.allowed:
        raise TooManyRequests(
            "Too many messages from you for now: please wait and try again.",
            retry_after=taken.retry_after,
        )
    return any(taken.courtesies)


@bp.route("/contact", methods=["GET", "POST"])
def contact():
    return handle_contact_form(services.submit_message)


def handle_contact_form(submit: Callable[..., object]):
    """The form's GET and POST; `submit` stores a valid message and queues what it causes."""
    form = ContactForm()
    if request.method == "GET" and current_user.is_authenticated:
        form.email.data = current_user.email
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("contact/form.html", form=form), status
    acknowledge = take_allowances(form.email.data)
    if not form.website.data:
        submit(
            name=form.name.data,
            email=form.email.data,
            message=form.message.data,
            user_id=current_user.id if current_user.is_authenticated else None,
            ip_address=request.remote_addr,
            acknowledge=acknowledge,
        )
        db.session.commit()
    flash(THANKS, "success")
    return redirect(url_for("contact.contact"), code=303)
