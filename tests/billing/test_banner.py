"""The expiring-card banner, over HTTP, for a logged-in customer."""

from saas.auth.models import User
from saas.billing.cards import save_card
from saas.billing.models import Card
from saas.extensions import db
from tests.support.accounts import make_user, months_from_now

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


def test_banner_shows_on_every_page_for_a_flagged_card_and_goes_once_it_is_updated(app, auth):
    month, year = months_from_now(0)
    make_user(app, "soon@example.com", card=(month, year, "4242"))
    auth.login("soon@example.com", "customer-password")
    for path in ("/", "/settings", "/contact", "/billing"):
        html = page(auth.client, path)
        assert BANNER in html
        assert f"Your card ending 4242 expires {month:02d}/{year}." in html
        assert 'href="/billing">Update it</a>' in html
    change_card(app, "soon@example.com", *months_from_now(24))
    assert BANNER not in page(auth.client)
    assert BANNER not in page(auth.client, "/billing")


def test_no_banner_for_visitors_or_for_a_card_far_from_expiry(app, auth, client):
    make_user(app, "later@example.com", card=(*months_from_now(12), "1234"))
    assert BANNER not in page(client)
    auth.login("later@example.com", "customer-password")
    assert BANNER not in page(auth.client)


def test_the_midnight_job_raises_the_banner_when_time_catches_up_with_a_card(
    app, auth, runner, run_queued_tasks
):
    make_user(app, "aging@example.com", card=(*months_from_now(12), "9999"))
    auth.login("aging@example.com", "customer-password")
    with app.app_context():  # a year later, as far as the card is concerned
        month, year = months_from_now(0)
        db.session.execute(db.update(Card).values(exp_month=month, exp_year=year))
        db.session.commit()
    assert BANNER not in page(auth.client)
    assert runner.invoke(args=["jobs", "run", "mark_expiring_cards"]).exit_code == 0
    run_queued_tasks()
    assert "Your card ending 9999 expires" in page(auth.client)
