"""Billing pages, Checkout and Portal redirects, the Stripe webhook, and the billing banners."""

from functools import wraps

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from saas.billing import services, stripe_api
from saas.billing.models import Subscription
from saas.extensions import csrf, db
from saas.jobs.retry import PermanentError, TransientError
from saas.urls import absolute_url

bp = Blueprint("billing", __name__)


@bp.get("/billing")
@login_required
def billing():
    return render_template(
        "billing/index.html",
        configured=stripe_api.configured(),
        card=current_user.card,
        sync_status=current_user.billing.card_sync_state if current_user.billing else None,
        subscription=services.current_subscription(current_user),
        plan_names={plan["key"]: plan["name"] for plan in services.plans()},
        invoices=services.invoices(current_user),
    )


@bp.get("/billing/card/status")
@login_required
def card_status():
    """What the billing page polls while the card is being fetched from Stripe."""
    card = current_user.card
    return jsonify(
        sync=current_user.billing.card_sync_state if current_user.billing else None,
        card=None
        if card is None
        else {
            "brand": card.brand,
            "last4": card.last4,
            "expires": f"{card.exp_month:02d}/{card.exp_year}",
            "expiring_soon": card.expiring_soon,
        },
    )


@bp.post("/billing/card/refresh")
@login_required
def refresh_card():
    if current_user.billing is None:
        flash("There is no card to refresh yet: subscribe first.", "info")
    else:
        services.request_card_sync(current_user)
        db.session.commit()
    return redirect(url_for("billing.billing"), code=303)


def _stripe_redirect(make_url):
    """Redirect to a Stripe-hosted page, or back to billing with a clear message."""
    if not stripe_api.configured():
        flash("Billing is not available: Stripe is not configured.", "error")
        return redirect(url_for("billing.billing"), code=303)
    try:
        url = make_url()
        db.session.commit()
    except (TransientError, PermanentError) as error:
        db.session.rollback()
        flash(f"Stripe could not be reached, please try again. ({error})", "error")
        return redirect(url_for("billing.billing"), code=303)
    return redirect(url, code=303)


@bp.post("/billing/checkout")
@login_required
def checkout():
    plan = services.plan_by_key(request.form.get("plan", ""))
    if plan is None:
        abort(400, description="Choose one of the plans on the pricing page.")

    def session_url() -> str:
        customer = services.ensure_customer(current_user)
        return stripe_api.create_checkout_session(
            customer_id=customer.stripe_customer_id,
            price_id=plan["price_id"],
            user_id=current_user.id,
            success_url=absolute_url("billing.billing") + "?checkout=success",
            cancel_url=absolute_url("pages.pricing"),
        )

    return _stripe_redirect(session_url)


@bp.post("/billing/portal")
@login_required
def portal():
    def session_url() -> str:
        customer = services.ensure_customer(current_user)
        return stripe_api.create_portal_session(
            customer_id=customer.stripe_customer_id, return_url=absolute_url("billing.billing")
        )

    return _stripe_redirect(session_url)


@bp.post("/billing/webhook")
@csrf.exempt
def webhook():
    """Verify, store once by event id, enqueue, answer 200: the work happens in the worker."""
    body = _capped_body(current_app.config["STRIPE_WEBHOOK_MAX_BYTES"])
    if body is None:
        return jsonify(error="The request body is too large."), 413
    try:
        event = stripe_api.verified_event(body, request.headers.get("Stripe-Signature"))
    except (stripe_api.StripeNotConfigured, ValueError) as error:
        return jsonify(error=str(error)), 400
    if not _well_formed(event):
        services.store_invalid_event(body, event)
        db.session.commit()
        return jsonify(error="The event has no id, type or data.object"), 400
    _row_id, duplicate = services.store_webhook_event(event)
    db.session.commit()
    return jsonify(received=True, duplicate=duplicate), 200


def _capped_body(cap: int) -> bytes | None:
    """The body, or None once it is longer than `cap`: from Content-Length before reading, and
    while reading (a chunked body), so no more than cap + 1 bytes are ever held."""
    if request.content_length is not None and request.content_length > cap:
        return None
    chunks, size = [], 0
    while size <= cap:
        chunk = request.stream.read(min(64 * 1024, cap + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return None if size > cap else b"".join(chunks)


def _short_str(value, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit


def _well_formed(event) -> bool:
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        return False
    obj = event["data"].get("object")
    return (
        _short_str(event.get("id"), 255)
        and _short_str(event.get("type"), 100)
        and isinstance(obj, dict)
        and (obj.get("id") is None or _short_str(obj.get("id"), 255))
    )


def subscription_required(view):
    """Gate a paid feature: customers without an active subscription go to the pricing page."""

    @wraps(view)
    @login_required
    def gated(*args, **kwargs):
        if not services.has_active_subscription(current_user):
            flash("That feature is part of a paid plan.", "info")
            return redirect(url_for("pages.pricing"), code=303)
        return view(*args, **kwargs)

    return gated


@bp.app_context_processor
def billing_banners() -> dict:
    """The flagged card and a failed payment of a logged-in customer, for base.html's banners."""
    if not has_request_context() or not current_user.is_authenticated:
        return {}  # emails are rendered outside requests
    card = current_user.card
    subscription = services.current_subscription(current_user)
    return {
        "expiring_card": card if card is not None and card.expiring_soon else None,
        "payment_problem": subscription is not None
        and subscription.status in Subscription.PAYMENT_PROBLEM,
    }
