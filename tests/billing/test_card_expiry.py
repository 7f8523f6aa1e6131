"""When a card counts as expiring: its last valid day (the last day of its expiry month) is at
most CARD_EXPIRY_WINDOW_DAYS (30) days after today, that whole day counting, or it expires this
month or has expired. Each edge is checked in memory (`is_expiring`, as saving a card does) and
by the midnight job's set-based SQL (`refresh_expiring_flags`), which must agree."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from saas.billing.cards import is_expiring, refresh_expiring_flags
from saas.billing.models import Card
from saas.extensions import db
from saas.jobs import clock
from tests.support.accounts import make_user

BANNER = 'data-testid="card-expiry-banner"'

EDGES = [
    # The 1st and the last day of a 31-day month (December 2026, January 2027).
    (date(2026, 12, 1), (12, 2026), True, "31-day-month-1st-card-expiring-this-month"),
    (date(2026, 12, 1), (1, 2027), False, "31-day-month-1st-next-months-card"),
    (date(2027, 1, 31), (1, 2027), True, "31-day-month-last-day-this-months-card"),
    (date(2027, 1, 31), (2, 2027), True, "31-day-month-last-day-feb-28-within-the-window"),
    (date(2027, 1, 31), (3, 2027), False, "31-day-month-last-day-the-month-after"),
    # A 28-day month (February 2027).
    (date(2027, 2, 1), (2, 2027), True, "28-day-month-1st-this-months-card"),
    (date(2027, 2, 1), (3, 2027), False, "28-day-month-1st-next-months-card"),
    (date(2027, 2, 28), (2, 2027), True, "28-day-month-last-day-this-months-card"),
    (date(2027, 2, 28), (3, 2027), False, "28-day-month-last-day-mar-31-is-today-plus-31"),
    # A 29-day month (February 2028, a leap year).
    (date(2028, 2, 1), (2, 2028), True, "29-day-month-1st-this-months-card"),
    (date(2028, 2, 1), (3, 2028), False, "29-day-month-1st-next-months-card"),
    (date(2028, 2, 29), (2, 2028), True, "29-day-month-last-day-this-months-card"),
    (date(2028, 2, 29), (3, 2028), False, "29-day-month-last-day-mar-31-is-today-plus-31"),
    # A 30-day month (April 2027).
    (date(2027, 4, 1), (4, 2027), True, "30-day-month-1st-this-months-card"),
    (date(2027, 4, 1), (5, 2027), False, "30-day-month-1st-next-months-card"),
    (date(2027, 4, 30), (4, 2027), True, "30-day-month-last-day-this-months-card"),
    (date(2027, 4, 30), (5, 2027), False, "30-day-month-last-day-may-31-is-today-plus-31"),
    # The window's boundary: the last valid day is today + 30 (flagged) or today + 31 (not).
    (date(2027, 1, 29), (2, 2027), True, "feb-28-2027-is-today-plus-30"),
    (date(2027, 1, 28), (2, 2027), False, "feb-28-2027-is-today-plus-31"),
    (date(2028, 1, 30), (2, 2028), True, "leap-feb-29-2028-is-today-plus-30"),
    (date(2028, 1, 29), (2, 2028), False, "leap-feb-29-2028-is-today-plus-31"),
    (date(2027, 3, 31), (4, 2027), True, "apr-30-is-today-plus-30"),
    (date(2027, 3, 30), (4, 2027), False, "apr-30-is-today-plus-31"),
    # Expired cards are always flagged.
    (date(2026, 12, 1), (11, 2026), True, "expired-last-month"),
    (date(2026, 12, 1), (3, 2025), True, "expired-last-year"),
    # December to January: the year wraps.
    (date(2026, 12, 31), (12, 2026), True, "dec-31-this-months-card"),
    (date(2026, 12, 31), (1, 2027), False, "dec-31-jan-31-is-today-plus-31"),
    (date(2027, 1, 1), (1, 2027), True, "jan-1-jan-31-is-today-plus-30"),
    (date(2027, 1, 1), (12, 2026), True, "jan-1-last-decembers-card-expired"),
    (date(2026, 12, 15), (1, 2027), False, "mid-december-next-januarys-card"),
    (date(2026, 12, 1), (12, 2027), False, "a-year-away"),
    # "Today" is the UTC date of the moment, whatever its time or zone.
    (datetime(2026, 12, 1, 0, 0, tzinfo=UTC), (12, 2026), True, "dec-1-at-midnight-utc"),
    (datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC), (12, 2026), False, "nov-30-23-59-59-utc"),
    (
        datetime(2026, 11, 30, 20, 0, tzinfo=ZoneInfo("America/New_York")),
        (12, 2026),
        True,
        "nov-30-evening-in-new-york-is-dec-1-utc",
    ),
]


def flag_after_refresh(app, card: tuple[int, int], stale: bool) -> tuple[bool, int]:
    """The card's flag once the set-based refresh ran over a stale one; and how many changed."""
    make_user(app, "card@example.com", card=(*card, "4242"))
    with app.app_context():
        db.session.execute(db.update(Card).values(expiring_soon=stale))
        changed = refresh_expiring_flags(clock.now())
        db.session.commit()
        return db.session.execute(db.select(Card.expiring_soon)).scalar_one(), changed


@pytest.mark.parametrize(
    ("today", "card", "expiring"),
    [pytest.param(today, card, expiring, id=name) for today, card, expiring, name in EDGES],
)
def test_is_expiring_and_the_set_based_refresh_agree_on_each_edge(
    app, fixed_clock, today, card, expiring
):
    as_of = fixed_clock(today)
    month, year = card
    with app.app_context():
        assert is_expiring(Card(exp_month=month, exp_year=year)) is expiring  # clock.now()
        assert is_expiring(Card(exp_month=month, exp_year=year), as_of=as_of) is expiring
    assert flag_after_refresh(app, card, stale=not expiring) == (expiring, 1)


@pytest.mark.app_config(CARD_EXPIRY_WINDOW_DAYS=0)
def test_with_no_window_a_card_is_flagged_in_its_own_month_only(app, fixed_clock):
    fixed_clock(date(2026, 12, 2))
    with app.app_context():
        assert is_expiring(Card(exp_month=12, exp_year=2026)) is True
        assert is_expiring(Card(exp_month=1, exp_year=2027)) is False
    assert flag_after_refresh(app, (12, 2026), stale=False) == (True, 1)


@pytest.mark.app_config(CARD_EXPIRY_WINDOW_DAYS=31)
def test_a_31_day_window_reaches_next_januarys_last_day_from_december_31(app, fixed_clock):
    fixed_clock(date(2026, 12, 31))
    with app.app_context():
        assert is_expiring(Card(exp_month=1, exp_year=2027)) is True
        assert is_expiring(Card(exp_month=2, exp_year=2027)) is False
    assert flag_after_refresh(app, (1, 2027), stale=False) == (True, 1)


@pytest.mark.parametrize(
    ("card", "shown"),
    [
        pytest.param((12, 2026), True, id="expires-this-month"),
        pytest.param((1, 2027), False, id="expires-next-month"),
    ],
)
def test_the_banner_on_the_1st_of_a_31_day_month(app, auth, fixed_clock, card, shown):
    fixed_clock(datetime(2026, 12, 1, 0, 30, tzinfo=UTC))
    make_user(app, "soon@example.com", card=(*card, "4242"))
    auth.login("soon@example.com", "customer-password")
    response = auth.client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert (BANNER in html) is shown
    assert ("Your card ending 4242 expires 12/2026." in html) is shown
