"""What one webhook delivery costs, counted (not timed): a new event is stored and its
processing queued in at most 3 round trips (database and Redis together), on a warm process."""

from saas.billing.models import StripeEvent
from saas.extensions import db, huey
from tests.support.fake_stripe import signed_event
from tests.support.round_trips import counting_round_trips


def deliver(client, event_id: str):
    body, headers = signed_event("product.created", {"id": "prod_1"}, event_id=event_id)
    return client.post("/billing/webhook", data=body, headers=headers)


def test_a_webhook_delivery_is_stored_and_queued_in_at_most_3_round_trips(app, client, monkeypatch):
    assert deliver(client, "evt_warm").status_code == 200  # opens the pools' connections
    with app.app_context():
        engine = db.engine
    with counting_round_trips(engine, monkeypatch) as trips:
        response = deliver(client, "evt_counted")
    print("database:", *trips.sql, "redis:", *trips.redis, sep="\n  ")
    assert (response.status_code, response.get_json()["duplicate"]) == (200, False)
    with app.app_context():
        assert db.session.execute(db.select(db.func.count(StripeEvent.id))).scalar() == 2
        assert huey.pending_count() == 2
    assert len(trips.sql) + len(trips.redis) <= 3, (trips.sql, trips.redis)
