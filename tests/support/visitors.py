"""The people the route-table tests send: an anonymous visitor, a customer and an admin, each
with their own test client, plus the objects the URLs of routes with arguments point at."""

import re
from dataclasses import dataclass

from flask.testing import FlaskClient

from saas.auth.models import User
from saas.auth.tokens import email_change_token, password_reset_token, verification_token
from saas.billing.models import StripeEvent, StripeEventStatus
from saas.extensions import db
from saas.jobs import clock
from saas.jobs.models import JobRun, RunStatus
from saas.jobs.registry import REGISTRY
from saas.mail import send_email
from saas.mail.models import EmailStatus
from saas.reports.models import ACCOUNT_EXPORT, Report, ReportStatus
from saas.reports.tasks import report_dir
from tests.support.accounts import make_user

PASSWORD = "customer-password"  # make_user's
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class Visitor:
    """A test client that logs in again after a request logged it out."""

    client: FlaskClient
    email: str | None = None

    def csrf_token(self) -> str:
        page = self.client.get("/contact").get_data(as_text=True)
        return TOKEN.search(page).group(1)

    def login(self) -> None:
        if self.email is not None:
            data = {"email": self.email, "password": PASSWORD, "csrf_token": self.csrf_token()}
            assert self.client.post("/login", data=data).status_code == 303

    def call(self, method: str, url: str, data: dict | None = None):
        response = self.client.open(url, method=method, data=data)
        if url == "/logout" and response.status_code == 303:
            self.login()
        return response


def visitor(app, email: str | None = None) -> Visitor:
    person = Visitor(app.test_client(), email)
    person.login()
    return person


def finished_export(app, user_id: int) -> str:
    """A customer's account export that succeeded, its file on disk; returns its public id."""
    with app.app_context():
        report = Report(
            user_id=user_id, kind=ACCOUNT_EXPORT, status=ReportStatus.SUCCEEDED, file_name="x.csv"
        )
        db.session.add(report)
        db.session.commit()
        (report_dir() / "x.csv").write_text("email\ncustomer@example.com\n")
        return report.public_id


def reset_token(app, user_id: int) -> str:
    with app.app_context():
        return password_reset_token(db.session.get(User, user_id))


def email_token(app, user_id: int, new_email: str) -> str:
    with app.app_context():
        return email_change_token(db.session.get(User, user_id), new_email)


def verify_token(app, user_id: int) -> str:
    with app.app_context():
        return verification_token(db.session.get(User, user_id))


def past_slot(app, job: str) -> str:
    """The job's latest slot, in ISO 8601, as the console's slot URLs carry it."""
    with app.app_context():
        timezone = app.config["SCHEDULER_TIMEZONE"]
        return REGISTRY[job].last_slots(clock.now(), timezone, 1)[0].isoformat()


def failed_run(app) -> int:
    with app.app_context():
        run = JobRun(job="mark_expiring_cards", status=RunStatus.FAILED, error="RuntimeError: x")
        db.session.add(run)
        db.session.commit()
        return run.id


def failed_email(app) -> int:
    with app.app_context():
        email = send_email(to="someone@example.com", template="password_changed")
        email.status, email.last_error = EmailStatus.FAILED, "PermanentError: SMTP 550"
        db.session.commit()
        return email.id


def failed_stripe_event(app) -> int:
    with app.app_context():
        event = StripeEvent(
            stripe_event_id="evt_failed",
            type="invoice.paid",
            stripe_created_at=clock.now(),
            payload={"id": "evt_failed"},
            status=StripeEventStatus.FAILED,
        )
        db.session.add(event)
        db.session.commit()
        return event.id


def make_people(app) -> dict:
    """Users, a report and tokens; the URL arguments of every rule come from here."""
    customer = make_user(app, "customer@example.com")
    make_user(app, "admin@example.com", role="admin")
    other = make_user(app, "other@example.com")
    mover = make_user(app, "mover@example.com")
    newcomer = make_user(app, "newcomer@example.com")
    return {
        "customer_id": customer,
        "user_id": other,
        "public_id": finished_export(app, customer),
        "name": "mark_expiring_cards",
        "slot": past_slot(app, "mark_expiring_cards"),
        "email_id": failed_email(app),
        "event_id": failed_stripe_event(app),
        "run_id": failed_run(app),
        "reset_token": reset_token(app, customer),
        "email_token": email_token(app, mover, "moved@example.com"),
        "verify_token": verify_token(app, newcomer),
    }
