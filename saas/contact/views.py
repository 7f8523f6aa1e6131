"""GET/POST /contact."""

from collections.abc import Callable

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

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


def accepted(response) -> bool:
    """Only successful submissions use up the allowance; a form with errors does not."""
    return response.status_code == 303


def contact_limits(view):
    """Per visitor (user or IP) and a looser per-IP limit, on POST; failed forms don't count."""
    view = limiter.limit(
        lambda: current_app.config["CONTACT_LIMIT_PER_IP"], methods=["POST"], deduct_when=accepted
    )(view)
    return limiter.limit(
        lambda: current_app.config["CONTACT_LIMIT_PER_VISITOR"],
        key_func=visitor_key,
        methods=["POST"],
        deduct_when=accepted,
    )(view)


@bp.route("/contact", methods=["GET", "POST"])
@contact_limits
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
    if not form.website.data:
        submit(
            name=form.name.data,
            email=form.email.data,
            message=form.message.data,
            user_id=current_user.id if current_user.is_authenticated else None,
            ip_address=request.remote_addr,
        )
        db.session.commit()
    flash(THANKS, "success")
    return redirect(url_for("contact.contact"), code=303)
