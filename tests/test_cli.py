from datetime import UTC, datetime, timedelta

import pytest

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


@pytest.mark.app_config(APP_ENV="Production")
def test_seed_refuses_in_production_without_force(runner, app):
    result = runner.invoke(args=["seed"])
    assert result.exit_code != 0
    assert "--force" in result.output
    with app.app_context():
        assert db.session.execute(db.select(User)).first() is None


@pytest.mark.app_config(APP_ENV="staging")
def test_seed_in_production_with_force_creates_only_the_admin_with_a_typed_password(
    runner, app, auth
):
    result = runner.invoke(
        args=["seed", "--force"], input="a typed admin password\na typed admin password\n"
    )
    assert result.exit_code == 0, result.output
    assert "admin-password" not in result.output
    assert "a typed admin password" not in result.output.split("Repeat for confirmation:")[-1]
    with app.app_context():
        [admin] = db.session.execute(db.select(User)).scalars().all()
        assert (admin.email, admin.is_admin) == ("admin@example.com", True)
        assert admin.check_password("a typed admin password")
    assert auth.login(email="admin@example.com", password="admin-password").status_code != 303
    assert (
        auth.login(email="admin@example.com", password="a typed admin password").status_code == 303
    )


@pytest.mark.app_config(APP_ENV="prod")
@pytest.mark.parametrize("password", ["admin-password", "short"])
def test_seed_in_production_refuses_the_published_or_a_short_password(runner, app, password):
    result = runner.invoke(args=["seed", "--force"], input=f"{password}\n{password}\n")
    assert result.exit_code != 0
    with app.app_context():
        assert db.session.execute(db.select(User)).first() is None
