"""The outbox's autocommit transitions run on the driver's cursor (lifecycle.DriverStatement):
what SQLAlchemy did for them must still happen: values and results typed as the columns say,
onupdate defaults filled in, driver errors raised as SQLAlchemy's, and the connection pooled
back as it was found."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from saas import create_app
from saas.database import database_unavailable
from saas.extensions import db
from saas.jobs import lifecycle
from saas.mail import outbox, send_email
from saas.mail.models import EMAILS, OutboundEmail
from tests.support.smtp import free_port

LONG_AGO = datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC)  # a month end, in the past


def queued_email(app, **context) -> int:
    with app.app_context():
        email = send_email(to="ada@example.com", template="password_changed", **context)
        db.session.commit()
        db.session.execute(
            db.update(OutboundEmail)
            .where(OutboundEmail.id == email.id)
            .values(updated_at=LONG_AGO)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        return email.id


def test_a_claim_returns_typed_columns_and_fills_in_the_onupdate_column(app):
    email_id = queued_email(app, name="Ada", items=[1, 2])
    with app.app_context():
        claimed = outbox.claim(email_id)
        assert claimed.context == {"name": "Ada", "items": [1, 2]}  # JSON, decoded
        assert claimed.created_at.tzinfo is UTC  # the UTCDateTime column, on either backend
        assert claimed.attempts == 1
        row = db.session.get(OutboundEmail, email_id)
        assert row.status == "sending"
        assert row.updated_at > LONG_AGO  # onupdate=now_utc, as SQLAlchemy would have set it
        assert row.lease_expires_at > row.updated_at  # a timezone-aware bound value
        assert outbox.claim(email_id) is None  # no longer pending: no row comes back


def test_the_outcome_says_whether_the_row_was_still_ours(app):
    email_id = queued_email(app)
    with app.app_context():
        claimed = outbox.claim(email_id)
        assert outbox.record_sent(claimed) is True
        assert outbox.record_sent(claimed) is False  # already sent: not active any more
        assert db.session.get(OutboundEmail, email_id).status == "sent"


def test_a_postpone_counts_the_rows_it_moved(app):
    email_id = queued_email(app)
    with app.app_context():
        assert outbox.postpone(email_id, 60) is True
        assert outbox.postpone(email_id, 60) is False  # not due any more: nothing moved
        due = db.session.get(OutboundEmail, email_id).enqueued_at
        assert due > datetime.now(UTC) + timedelta(seconds=50)


def test_a_driver_error_is_sqlalchemys_and_its_connection_is_not_pooled_again(app):
    with app.app_context():
        pool = db.engine.pool
        with pytest.raises(DBAPIError) as raised, lifecycle.autocommit_cursor() as cursor:
            broken = cursor.connection
            cursor.execute("INSERT INTO outbound_emails (id) VALUES (NULL)")
        assert isinstance(raised.value, IntegrityError)  # the driver's class, as SQLAlchemy maps
        assert not raised.value.connection_invalidated  # a bad statement, not a lost server
        assert pool.checkedout() == 0
        with pytest.raises(db.engine.dialect.loaded_dbapi.Error):
            broken.cursor().execute("SELECT 1")  # closed: its session state was unknown


def test_a_failed_connect_is_sqlalchemys_error_which_the_outcome_retry_waits_out(app_env):
    # A port of 127.0.0.1 nothing listens on, whatever the pass's backend.
    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/none"
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": unreachable, "DB_WAIT": 0.2})
    with app.app_context():
        with pytest.raises(OperationalError) as raised, lifecycle.autocommit_cursor():
            pass
        assert database_unavailable(raised.value)  # so execute_durably tries again
        assert db.engine.pool.checkedout() == 0
        db.engine.dispose()


def test_a_worker_starting_while_the_database_is_down_primes_nothing_and_goes_on(app_env, caplog):
    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/none"
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": unreachable, "DB_WAIT": 0.2})
    with app.app_context():
        outbox.prime()  # raises nothing: the first attempts do what it could not
        db.engine.dispose()
    [warning] = [record for record in caplog.records if record.name == "saas.mail.outbox"]
    assert warning.getMessage() == (
        "Outbox statements not primed (OperationalError): the first attempts will"
    )


def test_the_connection_goes_back_to_the_pool_with_transactions_on(app):
    with app.app_context():
        with lifecycle.autocommit_cursor() as cursor:
            driver = cursor.connection
        if db.engine.dialect.name == "postgresql":
            assert driver.autocommit is False
        else:
            assert driver.isolation_level is not None  # None is pysqlite's autocommit


def test_an_expanding_parameter_is_refused_rather_than_sent_unexpanded(app):
    with app.app_context():
        statement = db.update(OutboundEmail).where(OutboundEmail.status.in_(EMAILS.pending))
        with pytest.raises(ValueError, match="expanding"):
            lifecycle.DriverStatement.compile(statement, db.engine.dialect)
