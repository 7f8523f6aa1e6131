"""What one POST /contact costs, counted (not timed): at most 4 round trips to the database and
2 to Redis (both rate limits and the acknowledgement's allowance in one script, both tasks in
one pipeline), measured on a warm process (its connections open, as under load)."""

from saas.contact.models import ContactMessage
from saas.extensions import db
from saas.mail.models import OutboundEmail
from tests.contact.test_contact import GOOD, rows
from tests.support.round_trips import counting_round_trips


def post_contact(client, token: str, address: str):
    return client.post(
        "/contact",
        data={**GOOD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def csrf_token(client) -> str:
    page = client.get("/contact").get_data(as_text=True)
    return page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]


def test_a_contact_post_costs_at_most_4_database_and_2_redis_round_trips(app, client, monkeypatch):
    token = csrf_token(client)
    assert post_contact(client, token, "10.0.0.1").status_code == 303  # warms the pools
    with app.app_context():
        engine = db.engine
    with counting_round_trips(engine, monkeypatch) as trips:
        assert post_contact(client, token, "10.0.0.2").status_code == 303
    print("database:", *trips.sql, "redis:", *trips.redis, sep="\n  ")
    assert len(rows(app, ContactMessage)) == 2 and len(rows(app, OutboundEmail)) == 4
    assert len(trips.sql) <= 4, trips.sql
    assert len(trips.redis) <= 2, trips.redis
