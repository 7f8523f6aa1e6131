"""/admin/stripe-events: webhook events (status, type, error, attempts), filtered by status and
type, in pages by id; an event's page (payload, error, traceback, admin actions); reprocess a
failed event through the durable-work lifecycle."""

import json
import re

from flask import render_template, url_for

from saas.admin.audit import UnknownTarget, act
from saas.admin.audit_log import entries_for
from saas.admin.console import admin_required, bp
from saas.admin.listing import choice, matching, page
from saas.billing.models import STRIPE_EVENTS, StripeEvent, StripeEventStatus
from saas.extensions import db
from saas.jobs import lifecycle
from saas.jobs.lifecycle import Refused

STATUSES = tuple(status.value for status in StripeEventStatus)
# Stripe's (invoice.payment_failed), no longer than the column holds.
EVENT_TYPE = re.compile(r"(?=.{1,100}\Z)[a-z0-9_]+(\.[a-z0-9_]+)*")
# Why an event that is not failed is not processed again.
NOT_AGAIN = {
    StripeEventStatus.INVALID: "its body is not an event, so it is never processed",
    StripeEventStatus.PROCESSED: "it was processed already",
    StripeEventStatus.IGNORED: "it was ignored (a type we do not handle, or not our customer)",
}


@bp.get("/stripe-events")
@admin_required
def stripe_events():
    chosen = {
        "status": choice("status", STATUSES),
        "type": matching("type", EVENT_TYPE, "a Stripe event type"),
    }
    query = db.select(StripeEvent)
    if chosen["status"]:
        query = query.where(StripeEvent.status == chosen["status"])
    if chosen["type"]:
        query = query.where(StripeEvent.type == chosen["type"])
    events, next_before = page(query, StripeEvent.id)
    return render_template(
        "admin/stripe_events.html",
        events=events,
        next_before=next_before,
        chosen=chosen,
        statuses=STATUSES,
    )


@bp.get("/stripe-events/<int:event_id>")
@admin_required
def stripe_event(event_id: int):
    event = db.get_or_404(StripeEvent, event_id)
    return render_template(
        "admin/stripe_event.html",
        event=event,
        payload=json.dumps(event.payload, indent=2, sort_keys=True),
        trail=entries_for("stripe_event", event.id),
    )


def refusal(event: StripeEvent) -> str:
    why = NOT_AGAIN.get(event.status, "a worker has it in hand")
    return f"Stripe event {event.id} is {event.status}: {why}. Only a failed event is reprocessed."


@bp.post("/stripe-events/<int:event_id>/reprocess")
@admin_required
def reprocess_stripe_event(event_id: int):
    def do() -> str:
        event = db.session.get(StripeEvent, event_id)
        if event is None:
            raise UnknownTarget(f"No Stripe event has id {event_id}.")
        if not lifecycle.requeue_failed(STRIPE_EVENTS, event_id):
            raise Refused(refusal(event))
        return f"Stripe event {event_id} ({event.type}) queued to be processed again."

    then = url_for("admin.stripe_event", event_id=event_id)
    return act("stripe_event.reprocess", ("stripe_event", event_id), do, then=then)
