"""The expiring-card banner, over HTTP, for a logged-in customer (on a fixed clock)."""

from datetime import UTC, datetime

from saas.auth.models import User
from saas.billing.cards import save_card
from saas.extensions import db
from tests.support.accounts import make_user, months_ahead

BANNER = 'data-testid="card-expiry-banner"'


def page(client, path="/") -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def change_card(app, email: str, month: int, year: int) -> None:
    with app.app_context():
        user = db.session.execute(db.select(User).where(User.email == email)).scalar_one()
        save_card(user, brand="visa", last4="4242", exp_month=month, exp_year=year)
        db.session.commit()


def test_banner_shows_on_every_page_for_a_flagged_card_and_goes_once_it_is_updated(
    app, auth, fixed_clock
):
    month, year = months_ahead(0)
    make_user(app, "soon@example.com", card=(month, year, "4242"))
    auth.login("soon@example.com", "customer-password")
    for path in ("/", "/settings", "/contact", "/billing"):
        html = page(auth.client, path)
        assert BANNER in html
        assert f"Your card ending 4242 expires {month:02d}/{year}." in html
        assert 'href="/billing">Update it</a>' in html
    change_card(app, "soon@example.com", *months_ahead(24))
    assert BANNER not in page(auth.client)
    assert BANNER not in page(auth.client, "/billing")


def test_no_banner_for_visitors_or_for_a_card_far_from_expiry(app, auth, client, fixed_clock):
    make_user(app, "later@example.com", card=(*months_ahead(12), "1234"))
    assert BANNER not in page(client)
    auth.login("later@example.com", "customer-password")
    assert BANNER not in page(auth.client)


def test_the_midnight_job_raises_the_banner_when_time_catches_up_with_a_card(
    app, auth, runner, run_queued_tasks, fixed_clock
):
    fixed_clock(datetime(2026, 12, 1, 0, 0, tzinfo=UTC))
    make_user(app, "aging@example.com", card=(12, 2027, "9999"))
    auth.login("aging@example.com", "customer-password")
    fixed_clock(datetime(2027, 12, 1, 0, 0, tzinfo=UTC))  # a year later: it expires this month
    assert BANNER not in page(auth.client)
    assert runner.invoke(args=["jobs", "run", "mark_expiring_cards"]).exit_code == 0
    run_queued_tasks()
    assert "Your card ending 9999 expires 12/2027." in page(auth.client)
