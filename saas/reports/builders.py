"""What each report contains. Rows are streamed in id order, JOB_BATCH_SIZE at a time, straight
into the CSV file, so memory stays flat however large the account or the product."""

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import current_app

from saas.auth.models import User
from saas.billing.models import Card, Invoice, Subscription
from saas.contact.models import ContactMessage
from saas.extensions import db
from saas.jobs.models import JobRun, RunStatus
from saas.mail.models import OutboundEmail

HEADER = ["section", "record_id", "date", "summary", "details"]
# Text starting with one of these is a formula to a spreadsheet (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """Text that a spreadsheet would run as a formula, prefixed with ' so it shows as text.
    Numbers pass as they are: -1 is a number, not a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_writer(file) -> Callable[[list], None]:
    """Writes one CSV row to `file`, every cell through csv_cell: every report CSV uses it."""
    writer = csv.writer(file)
    return lambda row: writer.writerow([csv_cell(cell) for cell in row])


def _stream(query, id_column, batch_size: int) -> Iterator:
    after = 0
    while batch := db.session.execute(
        query.where(id_column > after).order_by(id_column).limit(batch_size)
    ).all():
        yield from batch
        after = batch[-1][0]
        db.session.rollback()  # hold no transaction (or connection) between batches


def _date(value) -> str:
    return value.isoformat() if value else ""


def _count(query) -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(query.subquery()))


@dataclass(frozen=True)
class Section:
    """One part of an account export: its rows for a user, and how each row reads."""

    title: str
    id_column: Any
    rows: Callable  # user_id -> a select whose first column is the id
    describe: Callable  # row -> (date, summary, details)


# Every section selects rows by the account's user id, never by its email address: an address
# is no proof of who wrote a row (anyone may sign up with anyone's).
ACCOUNT_SECTIONS = [
    Section(
        "Invoices",
        Invoice.id,
        lambda user_id: db.select(
            Invoice.id,
            Invoice.issued_at,
            Invoice.number,
            Invoice.status,
            Invoice.amount_paid,
            Invoice.amount_due,
            Invoice.currency,
        ).where(Invoice.user_id == user_id),
        lambda r: (
            r.issued_at,
            f"Invoice {r.number or r.id}: {r.status}",
            {"amount_paid": r.amount_paid, "amount_due": r.amount_due, "currency": r.currency},
        ),
    ),
    Section(
        "Emails sent",
        OutboundEmail.id,
        lambda user_id: db.select(
            OutboundEmail.id,
            OutboundEmail.created_at,
            OutboundEmail.template,
            OutboundEmail.status,
            OutboundEmail.sent_at,
        ).where(OutboundEmail.user_id == user_id),
        lambda r: (r.created_at, f"{r.template}: {r.status}", {"sent_at": _date(r.sent_at)}),
    ),
    Section(
        "Contact messages",
        ContactMessage.id,
        lambda user_id: db.select(
            ContactMessage.id,
            ContactMessage.created_at,
            ContactMessage.message,
            ContactMessage.ip_address,
        ).where(ContactMessage.user_id == user_id),
        lambda r: (r.created_at, r.message[:200], {"ip_address": r.ip_address}),
    ),
    Section(
        "Subscriptions",
        Subscription.id,
        lambda user_id: db.select(
            Subscription.id,
            Subscription.created_at,
            Subscription.plan,
            Subscription.status,
            Subscription.current_period_end,
        ).where(Subscription.user_id == user_id),
        lambda r: (
            r.created_at,
            f"{r.plan}: {r.status}",
            {"current_period_end": _date(r.current_period_end)},
        ),
    ),
]


def _profile_rows(user: User) -> list[list]:
    profile = {"role": user.role, "last_seen_at": _date(user.last_seen_at)}
    sign_ins = {
        "current_ip": user.current_sign_in_ip,
        "previous": _date(user.last_sign_in_at),
        "previous_ip": user.last_sign_in_ip,
    }
    rows = [
        ["Profile", user.id, _date(user.created_at), user.email, json.dumps(profile)],
        [
            "Sign-ins",
            user.id,
            _date(user.current_sign_in_at),
            f"{user.sign_in_count} sign-ins",
            json.dumps(sign_ins),
        ],
    ]
    card = db.session.execute(db.select(Card).where(Card.user_id == user.id)).scalar_one_or_none()
    if card:
        expires = {"expires": f"{card.exp_month:02d}/{card.exp_year}"}
        summary = f"{card.brand} ending {card.last4}"
        rows.append(["Card", card.id, _date(card.updated_at), summary, json.dumps(expires)])
    return rows


def account_export(user_id: int, progress, write) -> dict:
    """Everything we hold about one customer, section by section."""
    batch = current_app.config["JOB_BATCH_SIZE"]
    user = db.session.get(User, user_id)
    queries = [(section, section.rows(user_id)) for section in ACCOUNT_SECTIONS]
    progress.start(total=2 + sum(_count(query) for _, query in queries))
    progress.stage("Profile and sign-ins")
    profile = _profile_rows(user)
    for row in profile:
        write(row)
    progress.advance(2)
    rows = 2
    for section, query in queries:
        progress.stage(section.title)
        for row in _stream(query, section.id_column, batch):
            when, summary, details = section.describe(row)
            write([section.title, row[0], _date(when), summary, json.dumps(details)])
            progress.advance(1)
            rows += 1
    return {"rows": rows}


def _month(column):
    if db.engine.dialect.name == "postgresql":
        return db.func.to_char(column, "YYYY-MM")
    return db.func.strftime("%Y-%m", column)


def product_summary(user_id: int, progress, write) -> dict:
    """Signups, active subscriptions, churn, revenue by month, failed jobs: aggregates computed by
    the database, so a million users cost no memory here."""

    def grouped(key, value, *conditions):
        return db.select(key, value).where(*conditions).group_by(key)

    queries = [
        ("Signups by month", grouped(_month(User.created_at), db.func.count(User.id))),
        (
            "Active subscriptions",
            grouped(
                Subscription.plan,
                db.func.count(Subscription.id),
                Subscription.status.in_(Subscription.ACTIVE),
            ),
        ),
        (
            "Churn by month",
            grouped(
                _month(Subscription.updated_at),
                db.func.count(Subscription.id),
                Subscription.status == "canceled",
            ),
        ),
        (
            "Revenue by month",
            grouped(
                _month(Invoice.issued_at),
                db.func.sum(Invoice.amount_paid),
                Invoice.status == "paid",
            ),
        ),
        (
            "Failed jobs",
            grouped(JobRun.job, db.func.count(JobRun.id), JobRun.status == RunStatus.FAILED),
        ),
    ]
    progress.start(total=len(queries))
    summary = {}
    for title, query in queries:
        progress.stage(title)
        results = sorted((str(key), int(value or 0)) for key, value in db.session.execute(query))
        db.session.rollback()
        for key, value in results:
            write([title, "", "", key, json.dumps({"value": value})])
        summary[title] = results
        progress.advance(1)
    return summary


BUILDERS = {"account_export": account_export, "product_summary": product_summary}
