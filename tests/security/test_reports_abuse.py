"""Reports against abuse (issue 12, items 2 and 4), through HTTP: an export holds only the rows
linked to the account by id, no CSV cell can run as a formula, and one user's open progress
streams, report requests per hour and unfinished reports are capped."""

import contextvars
import csv
import io

import pytest

from saas.billing.models import Subscription
from saas.contact.models import ContactMessage
from saas.extensions import db, huey
from saas.reports.models import Report
from tests.support.accounts import make_user
from tests.support.auth import AuthActions

FORMULAS = ['=HYPERLINK("http://x")', "+1", "-1", "@SUM(1)", "\tTab", "\rCR"]
CONTACT = {"name": "Ada", "email": "customer@example.com"}
QUEUE_FULL = "reports waiting or being built"


def request_report(auth, kind="account_export"):
    return auth.post("/reports", {"kind": kind}, token_from="/reports")


def public_id_of(response) -> str:
    assert response.status_code == 303, response.status_code
    return response.headers["Location"].rsplit("/", 1)[1]


def built_csv(auth, run_queued_tasks, kind="account_export") -> list[list[str]]:
    public_id = public_id_of(request_report(auth, kind))
    run_queued_tasks()
    download = auth.client.get(f"/reports/{public_id}/download")
    assert download.status_code == 200
    return list(csv.reader(io.StringIO(download.get_data(as_text=True), newline="")))


def stored(app) -> tuple:
    """Every report's (public id, status), and the tasks waiting in the queue."""
    with app.app_context():
        reports = db.session.execute(db.select(Report.public_id, Report.status)).all()
        return sorted(reports), huey.pending_count()


def status_of(app, public_id: str) -> str:
    with app.app_context():
        return db.session.scalar(db.select(Report.status).where(Report.public_id == public_id))


def person(app, email: str, **fields) -> AuthActions:
    """Another browser, logged in to a new account with that address."""
    make_user(app, email, **fields)
    other = AuthActions(app.test_client())
    assert other.login(email, "customer-password").status_code == 303
    return other


# Three form posts from one test IP: the contact limits are not what this test is about.
@pytest.mark.app_config(CONTACT_LIMIT_PER_VISITOR="50/minute", CONTACT_LIMIT_PER_IP="50/minute")
def test_an_export_holds_contact_messages_by_user_id_never_by_address(app, auth, run_queued_tasks):
    stranger = AuthActions(app.test_client())  # anyone, before the account exists
    message = {**CONTACT, "message": "Written before the account existed"}
    sent = stranger.post(
        "/contact", message, token_from="/contact", environ_base={"REMOTE_ADDR": "203.0.113.9"}
    )
    assert sent.status_code == 303
    other = person(app, "other@example.com")  # another account, typing this address
    message = {**CONTACT, "message": "Written by another account"}
    assert other.post("/contact", message, token_from="/contact").status_code == 303
    auth.signup()
    auth.login()
    message = {**CONTACT, "message": "Written by the account itself"}
    assert auth.post("/contact", message, token_from="/contact").status_code == 303
    with app.app_context():
        senders = db.session.scalars(
            db.select(ContactMessage.user_id).where(ContactMessage.email == CONTACT["email"])
        ).all()
    assert len(set(senders)) == 3 and None in senders  # three senders, one address

    export = built_csv(auth, run_queued_tasks)
    messages = [row[3] for row in export if row[0] == "Contact messages"]
    assert messages == ["Written by the account itself"]
    assert "203.0.113.9" not in str(export)
    # Emails too: the account's own (linked by id), never what merely went to its address, such
    # as the acknowledgements of the stranger's and the other account's messages.
    emails = [row[3].split(":")[0] for row in export if row[0] == "Emails sent"]
    assert "verify_email" in emails
    assert emails.count("contact_acknowledgement") == 0


def test_no_csv_cell_of_any_report_starts_a_formula(app, run_queued_tasks):
    admin_id = make_user(app, "admin@example.com", role="admin")
    with app.app_context():
        for number, text in enumerate(FORMULAS):
            db.session.add(ContactMessage(message=text, user_id=admin_id, **CONTACT))
            db.session.add(
                Subscription(
                    user_id=admin_id,
                    stripe_subscription_id=f"sub_{number}",
                    status="active",
                    plan=text,
                )
            )
        db.session.commit()
    admin = AuthActions(app.test_client())
    assert admin.login("admin@example.com", "customer-password").status_code == 303
    quoted = sorted("'" + text for text in FORMULAS)

    export = built_csv(admin, run_queued_tasks)
    assert sorted(row[3] for row in export if row[0] == "Contact messages") == quoted
    plans = [row[3] for row in export if row[0] == "Subscriptions"]
    assert sorted(plans) == sorted(f"'{text}: active" for text in FORMULAS)
    assert all(row[1].isdigit() for row in export[1:])  # ids are left as they are
    summary = built_csv(admin, run_queued_tasks, "product_summary")
    assert sorted(row[3] for row in summary if row[0] == "Active subscriptions") == quoted
    for row in export + summary:
        assert not [cell for cell in row if cell.startswith(tuple("=+-@\t\r"))]


class Stream:
    """An open progress stream. Each runs in its own context, as in a server thread of its own:
    the test client has read its first event and the stream waits for the next."""

    def __init__(self, client, url: str):
        self.context = contextvars.copy_context()
        self.response = self.context.run(client.get, url)

    def close(self) -> None:
        """What the server does when the browser goes away."""
        self.context.run(self.response.close)


@pytest.mark.app_config(REPORT_STREAMS_PER_USER=2)
def test_open_progress_streams_are_capped_per_user_and_a_closed_one_frees_its_slot(
    app, auth, run_queued_tasks
):
    auth.signup()
    auth.login()
    url = f"/reports/{public_id_of(request_report(auth))}/events"  # queued: the streams stay
    streams = [Stream(auth.client, url) for _ in range(2)]
    assert [stream.response.status_code for stream in streams] == [200, 200]
    assert streams[0].response.mimetype == "text/event-stream"

    refused = auth.client.get(url)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "25"  # REPORT_STREAM_SECONDS: a stream's longest
    assert "check for progress every few seconds" in refused.get_data(as_text=True)
    other = person(app, "other@example.com")  # the cap is per user
    streams.append(Stream(other.client, f"/reports/{public_id_of(request_report(other))}/events"))
    assert streams[-1].response.status_code == 200

    streams.pop(0).close()
    streams.append(Stream(auth.client, url))
    assert streams[-1].response.status_code == 200
    assert auth.client.get(url).status_code == 429  # at the cap again
    for stream in streams:
        stream.close()

    run_queued_tasks()  # finished: each stream now runs to its end, and frees its slot there
    for _ in range(3):
        body = auth.client.get(url).get_data(as_text=True)
        assert "event: done" in body


@pytest.mark.app_config(REPORT_LIMIT_PER_USER="2 per hour", REPORT_QUEUED_PER_USER=10)
def test_report_requests_are_limited_per_user_per_hour(app, auth):
    auth.signup()
    auth.login()
    assert request_report(auth, "nonsense").status_code == 400  # refused: not counted
    first = public_id_of(request_report(auth))
    public_id_of(request_report(auth))
    assert auth.post(f"/reports/{first}/cancel", token_from="/reports").status_code == 303
    before = stored(app)

    refused = request_report(auth)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 60
    assert "Too many requests" in refused.get_data(as_text=True)
    # A retry queues a build too, so it draws on the same allowance.
    assert auth.post(f"/reports/{first}/retry", token_from="/reports").status_code == 429
    assert stored(app) == before
    assert status_of(app, first) == "canceled"
    other = person(app, "other@example.com")  # per account: the same IP still may
    public_id_of(request_report(other))


@pytest.mark.app_config(REPORT_QUEUED_PER_USER=2)
def test_a_user_with_a_full_queue_is_refused_and_nothing_is_stored(app, auth):
    auth.signup()
    auth.login()
    running = public_id_of(request_report(auth))
    queued = public_id_of(request_report(auth))
    with app.app_context():  # a build in progress counts as much as a queued one
        db.session.execute(
            db.update(Report).where(Report.public_id == running).values(status="running")
        )
        db.session.commit()
    before = stored(app)
    refused = request_report(auth)
    assert refused.status_code == 409
    assert QUEUE_FULL in refused.get_data(as_text=True)
    assert stored(app) == before

    auth.post(f"/reports/{queued}/cancel", token_from="/reports")
    third = public_id_of(request_report(auth))  # room for one again
    before = stored(app)
    retried = auth.post(f"/reports/{queued}/retry", token_from="/reports", follow_redirects=True)
    assert QUEUE_FULL in retried.get_data(as_text=True)  # a retry is refused the same way
    assert stored(app) == before
    assert status_of(app, queued) == "canceled"

    other = person(app, "other@example.com")  # the cap is per user
    public_id_of(request_report(other))
    auth.post(f"/reports/{third}/cancel", token_from="/reports")
    retried = auth.post(f"/reports/{queued}/retry", token_from="/reports")
    assert retried.status_code == 303 and status_of(app, queued) == "queued"


@pytest.mark.parametrize(
    "kind", ["", "x" * 5000, "account_export\x00", "product_summary", "ACCOUNT_EXPORT", "é"]
)
def test_a_bad_report_request_is_400_and_stores_nothing(app, auth, kind):
    auth.signup()
    auth.login()
    before = stored(app)
    assert request_report(auth, kind).status_code == 400
    assert stored(app) == before
    for path in ("", "/events", "/progress", "/download"):
        assert auth.client.get(f"/reports/{'x' * 300}{path}").status_code == 404
