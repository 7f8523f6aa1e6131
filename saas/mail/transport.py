"""Hand a message to SMTP, or write it as an .eml file when no MAIL_SERVER is set."""

import logging
import smtplib
import threading
import time
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr
from pathlib import Path

from flask import current_app

from saas.jobs.retry import PermanentError, TransientError
from saas.mail.rendering import RenderedEmail

log = logging.getLogger(__name__)

# The text part stays 8bit so links in it can be copied from an .eml file; HTML may have long
# lines, so it is quoted-printable. (The compat32 classes build a message several times faster
# than EmailMessage, which matters when one worker process sends hundreds per second.)
TEXT_CHARSET = Charset("utf-8")
TEXT_CHARSET.body_encoding = None
HTML_CHARSET = Charset("utf-8")
HTML_CHARSET.body_encoding = QP


def build_message(
    *, to: str, rendered: RenderedEmail, reply_to: str | None = None, message_id: str | None = None
) -> Message:
    message = MIMEMultipart("alternative")
    message["From"] = _address_header(current_app.config["MAIL_DEFAULT_SENDER"])
    message["To"] = _address_header(to)
    if reply_to:
        message["Reply-To"] = _address_header(reply_to)
    message["Subject"] = _text_header(rendered.subject)
    message["Date"] = formatdate(localtime=False)
    if message_id:
        message["Message-ID"] = message_id
    message.attach(MIMEText(rendered.text, "plain", TEXT_CHARSET))
    message.attach(MIMEText(rendered.html, "html", HTML_CHARSET))
    return message


def _text_header(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode()


def _address_header(value: str) -> str:
    name, address = parseaddr(value)
    return formataddr((name, address), charset="utf-8") if name else address


def stable_message_id(email_id: int, created_at) -> str:
    """The same Message-ID on every attempt, so a receiver can drop duplicate deliveries."""
    domain = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1].rpartition("@")[2]
    return f"<outbox.{email_id}.{int(created_at.timestamp())}@{domain or 'localhost'}>"


def deliver(message: Message) -> str:
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


class _ThreadConnection(threading.local):
    """The SMTP connection a worker thread keeps between emails."""

    smtp: smtplib.SMTP | None = None
    settings: tuple = ()
    last_used: float = 0.0
    sent: int = 0

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                self.smtp.close()
        self.smtp, self.sent = None, 0


_connection = _ThreadConnection()


def _send_smtp(message: Message, config) -> str:
    settings = tuple(
        config[key]
        for key in ("MAIL_SERVER", "MAIL_PORT", "MAIL_USE_SSL", "MAIL_USE_TLS", "MAIL_USERNAME")
    )
    reusable = (
        _connection.smtp is not None
        and _connection.settings == settings
        and time.monotonic() - _connection.last_used < config["MAIL_KEEPALIVE"]
        and _connection.sent < config["MAIL_MAX_PER_CONNECTION"]
    )
    if not reusable:
        _connection.close()
    try:
        if reusable:
            try:
                _connection.smtp.send_message(message)
            except smtplib.SMTPServerDisconnected:
                # The server dropped the idle connection (a rare late drop may duplicate the
                # email; the stable Message-ID lets the receiver discard it): send afresh.
                _connection.close()
                reusable = False
        if not reusable:
            _connection.smtp, _connection.settings = _connect(config), settings
            _connection.smtp.send_message(message)
    except BaseException:
        _connection.close()  # the session's state is unknown: never reuse it
        raise
    _connection.sent += 1
    _connection.last_used = time.monotonic()
    if config["MAIL_KEEPALIVE"] <= 0:
        _connection.close()
    return f"{config['MAIL_SERVER']}:{config['MAIL_PORT']}"


def _connect(config) -> smtplib.SMTP:
    smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    smtp = smtp_class(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"])
    try:
        if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _write_eml(message: Message, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    stem = message["Message-ID"].strip("<>").replace("@", "_").replace("/", "_")
    path = folder / f"{stem}.eml"
    path.write_bytes(message.as_bytes())
    log.info("Email to %s written to %s", message["To"], path)
    return str(path)
