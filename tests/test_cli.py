from datetime import UTC, datetime, timedelta

from saas.auth.models import User
from saas.billing.models import Card
from saas.database import now_utc
from saas.extensions import db


def test_seed_is_idempotent_and_prints_the_admin_login(runner, app, auth, fixed_clock):
    fixed_clock(datetime(2026, 12, 1, 0, 30, tzinfo=UTC))  # the 1st of a 31-day month
    first = runner.invoke(args=["seed"])
    assert first.exit_code == 0, first.output
    assert "admin@example.com / admin-password" in first.output
    second = runner.invoke(args=["seed"])
    assert "already present" in second.output
    with app.app_context():
        users = db.session.execute(db.select(User)).scalars().all()
        assert len(users) == 5
        assert [u.email for u in users if u.is_admin] == ["admin@example.com"]
        expiring = (
            db.session.execute(db.select(Card).filter_by(exp_month=12, exp_year=2026))
            .scalars()
            .all()
        )
        assert [(c.user.email, c.expiring_soon) for c in expiring] == [
            ("expiring@example.com", True)
        ]
        inactive = (
            db.session.execute(
                db.select(User).where(User.last_seen_at < now_utc() - timedelta(days=180))
            )
            .scalars()
            .all()
        )
        assert [u.email for u in inactive] == ["inactive@example.com"]
    assert auth.login(email="admin@example.com", password="admin-password").status_code == 303


def test_create_admin_prompts_for_the_password(runner, app):
    result = runner.invoke(
        args=["users", "create-admin", "Boss@Example.com"],
        input="a strong password\na strong password\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.execute(db.select(User)).scalar_one()
        assert (user.email, user.role) == ("boss@example.com", "admin")
        assert user.check_password("a strong password")


def test_create_admin_refuses_a_short_password(runner, app):
    result = runner.invoke(
        args=["users", "create-admin", "boss@example.com"], input="short\nshort\n"
    )
    assert result.exit_code != 0
    assert "at least 10 characters" in result.output
    with app.app_context():
        assert db.session.execute(db.select(User)).first() is None
