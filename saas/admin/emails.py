"""/admin/emails: the outbox, filtered by status, template and recipient, in pages by id; an
email's page (its headers and text part as saas/mail renders them, attempts, last error, timings,
on the embedded default the .eml file it was written to, and its admin actions); retry, discard,
and retry every failed email after a typed confirmation."""

from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path

from flask import current_app, render_template, request, url_for
from markupsafe import escape

from saas.admin.audit import UnknownTarget, act
from saas.admin.audit_log import entries_for
from saas.admin.console import admin_required, bp
from saas.admin.listing import address, choice, page
from saas.extensions import db
from saas.jobs.lifecycle import Refused, describe
from saas.mail import services
from saas.mail.models import PENDING, EmailStatus, OutboundEmail
from saas.mail.rendering import render_email
from saas.mail.transport import eml_path, stable_message_id

STATUSES = tuple(status.value for status in EmailStatus)
CONFIRMATION = "retry all"
# Context values under these keys are one-time links (password reset, address verification and
# change): whoever reads one can use it, so the console shows the email without them.
SECRET_SUFFIX = "_link"
HIDDEN = "[one-time link, not shown]"
EML_LIMIT = 1024 * 1024  # bytes of an .eml file read for the page


def known_templates() -> tuple[str, ...]:
    """The email templates saas/mail can render: each has templates/email/<name>.subject.txt."""
    suffix = ".subject.txt"
    names = current_app.jinja_env.list_templates(
        filter_func=lambda name: name.startswith("email/") and name.endswith(suffix)
    )
    return tuple(sorted(name.removeprefix("email/").removesuffix(suffix) for name in names))


@bp.get("/emails")
@admin_required
def emails():
    templates = known_templates()
    chosen = {
        "status": choice("status", STATUSES),
        "template": choice("template", templates),
        "to": address("to"),
    }
    columns = {
        "status": OutboundEmail.status,
        "template": OutboundEmail.template,
        "to": OutboundEmail.to_address,
    }
    query = db.select(OutboundEmail)
    for name, value in chosen.items():
        if value:
            query = query.where(columns[name] == value)
    rows, next_before = page(query, OutboundEmail.id)
    return render_template(
        "admin/emails.html",
        emails=rows,
        next_before=next_before,
        chosen=chosen,
        statuses=STATUSES,
        templates=templates,
        failed=_count(EmailStatus.FAILED),
        confirmation=CONFIRMATION,
    )


def _count(status: str) -> int:
    return db.session.scalar(
        db.select(db.func.count()).select_from(OutboundEmail).where(OutboundEmail.status == status)
    )


@dataclass(frozen=True)
class Preview:
    """The email as it will be (or was) sent; `error` when its template no longer renders."""

    headers: list[tuple[str, str]]
    text: str | None = None
    error: str | None = None


def secrets(email: OutboundEmail) -> list[str]:
    return [str(v) for k, v in email.context.items() if k.endswith(SECRET_SUFFIX) and v]


def hide_secrets(text: str, email: OutboundEmail) -> str:
    for secret in secrets(email):
        text = text.replace(secret, HIDDEN).replace(str(escape(secret)), HIDDEN)
    return text


def preview(email: OutboundEmail) -> Preview:
    headers = [("From", current_app.config["MAIL_DEFAULT_SENDER"]), ("To", email.to_address)]
    if email.reply_to:
        headers.append(("Reply-To", email.reply_to))
    message_id = ("Message-ID", email.message_id or stable_message_id(email.id, email.created_at))
    context = {
        k: HIDDEN if k.endswith(SECRET_SUFFIX) and v else v for k, v in email.context.items()
    }
    try:
        rendered = render_email(email.template, context)
    except Exception as error:  # its template changed or went since: show why, not a 500
        return Preview([*headers, message_id], error=describe(error))
    return Preview([*headers, ("Subject", rendered.subject), message_id], text=rendered.text)


def eml_text(email: OutboundEmail) -> str | None:
    """The .eml file the embedded default wrote for this email, with its parts decoded; None
    when there is none. A path that resolves outside MAIL_FILE_DIR (a symlink) is not read."""
    if not email.message_id:
        return None
    folder = Path(current_app.config["MAIL_FILE_DIR"]).resolve()
    path = eml_path(folder, email.message_id).resolve()
    if not path.is_relative_to(folder) or not path.is_file():
        return None
    with path.open("rb") as file:
        return hide_secrets(readable(file.read(EML_LIMIT)), email)


def readable(raw: bytes) -> str:
    """The file's headers as written, then each text part decoded (the HTML is quoted-printable
    in the file, unreadable as is)."""
    head = raw.split(b"\n\n", 1)[0].decode("utf-8", "replace")
    message = message_from_bytes(raw, policy=policy.default)
    parts = [
        f"[{part.get_content_type()}]\n{part.get_content()}"
        for part in message.walk()
        if part.get_content_maintype() == "text"
    ]
    return "\n\n".join([head, *parts])


@bp.get("/emails/<int:email_id>")
@admin_required
def email(email_id: int):
    row = db.get_or_404(OutboundEmail, email_id)
    return render_template(
        "admin/email.html",
        email=row,
        preview=preview(row),
        eml=eml_text(row),
        retryable=row.status == EmailStatus.FAILED,
        discardable=row.status in (*PENDING, EmailStatus.FAILED),
        trail=entries_for("email", row.id),
    )


def _known_email(email_id: int) -> OutboundEmail:
    row = db.session.get(OutboundEmail, email_id)
    if row is None:
        raise UnknownTarget(f"No email has id {email_id}.")
    return row


@bp.post("/emails/<int:email_id>/retry")
@admin_required
def retry_email(email_id: int):
    def do() -> str:
        row = _known_email(email_id)
        if not services.retry_failed(email_ids=[email_id]):
            raise Refused(f"Email {email_id} is {row.status}: only a failed email is retried.")
        return f"Email {email_id} to {row.to_address} queued again; a worker will send it."

    then = url_for("admin.email", email_id=email_id)
    return act("email.retry", ("email", email_id), do, then=then)


@bp.post("/emails/<int:email_id>/discard")
@admin_required
def discard_email(email_id: int):
    def do() -> str:
        row = _known_email(email_id)
        if not services.discard(email_id):
            raise Refused(
                f"Email {email_id} is {row.status}: only a failed or waiting email is discarded."
            )
        return f"Email {email_id} to {row.to_address} discarded: it will not be sent."

    then = url_for("admin.email", email_id=email_id)
    return act("email.discard", ("email", email_id), do, then=then)


@bp.post("/emails/retry-failed")
@admin_required
def retry_failed_emails():
    typed = request.form.get("confirm", "").strip()

    def do() -> str:
        if typed != CONFIRMATION:
            raise Refused(f'Type "{CONFIRMATION}" to confirm retrying every failed email.')
        return f"{len(services.retry_failed())} failed email(s) queued again."

    return act(
        "email.retry_failed",
        ("email", None),
        do,
        then=url_for("admin.emails"),
        arguments={"confirm": typed[:40]},
    )
