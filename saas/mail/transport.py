"""Hand a message to SMTP, or write it as an .eml file when no MAIL_SERVER is set."""

import logging
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path

from flask import current_app

from saas.jobs.retry import PermanentError, TransientError
from saas.mail.rendering import RenderedEmail

log = logging.getLogger(__name__)


def build_message(
    *, to: str, rendered: RenderedEmail, reply_to: str | None = None, message_id: str | None = None
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = to
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = rendered.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    # 8bit keeps links on one line, so they can be copied from an .eml file.
    message.set_content(rendered.text, cte="8bit")
    message.add_alternative(rendered.html, subtype="html")
    return message


def stable_message_id(email_id: int, created_at) -> str:
    """The same Message-ID on every attempt, so a receiver can drop duplicate deliveries."""
    domain = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1].rpartition("@")[2]
    return f"<outbox.{email_id}.{int(created_at.timestamp())}@{domain or 'localhost'}>"


def deliver(message: EmailMessage) -> str:
    """Send `message`; returns where it went. Failures come out as Permanent/TransientError."""
    config = current_app.config
    if not config["MAIL_SERVER"]:
        return _write_eml(message, Path(config["MAIL_FILE_DIR"]))
    try:
        return _send_smtp(message, config)
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        raise _classified(min(codes), str(error.recipients)) from error
    except smtplib.SMTPResponseException as error:
        raise _classified(error.smtp_code, error.smtp_error) from error
    except (OSError, smtplib.SMTPException) as error:
        raise TransientError(f"{type(error).__name__}: {error}") from error


def _classified(code: int, detail) -> Exception:
    """SMTP 5xx is permanent (retrying cannot help); 4xx and anything else is transient."""
    if isinstance(detail, bytes):
        detail = detail.decode(errors="replace")
    error_class = PermanentError if 500 <= code < 600 else TransientError
    return error_class(f"SMTP {code}: {detail}")


def _send_smtp(message: EmailMessage, config) -> str:
    smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    with smtp_class(
        config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"]
    ) as smtp:
        if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(message)
    return f"{config['MAIL_SERVER']}:{config['MAIL_PORT']}"


def _write_eml(message: EmailMessage, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    stem = message["Message-ID"].strip("<>").replace("@", "_").replace("/", "_")
    path = folder / f"{stem}.eml"
    path.write_bytes(message.as_bytes())
    log.info("Email to %s written to %s", message["To"], path)
    return str(path)
