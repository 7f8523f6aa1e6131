"""Hand a message to SMTP, or write it as an .eml file when no MAIL_SERVER is set. A server that
refuses or does not answer connections trips the breaker (saas.mail.breaker): sends then wait
for a probe (`wait_before_sending`) instead of spending attempts."""

import binascii
import functools
import io
import logging
import re
import secrets
import smtplib
import ssl
import threading
import time
from email.charset import Charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import formataddr, formatdate, getaddresses, parseaddr, quote
from pathlib import Path

from email_validator import EmailNotValidError, validate_email
from flask import current_app

from saas.jobs.retry import PermanentError, TransientError
from saas.jobs.turns import worker_turns
from saas.mail.breaker import Breaker, breaker_for
from saas.mail.rendering import RenderedEmail

log = logging.getLogger(__name__)

# SMTP refuses lines over 998 bytes (RFC 5322). The text part stays 7bit/8bit when every line
# fits, so links in it can be copied from an .eml file; otherwise it is quoted-printable, as the
# HTML always is. binascii's C encoder is ~8x faster than email.quoprimime, and the compat32
# classes build a message several times faster than EmailMessage: one worker process sends
# hundreds per second.
MAX_LINE_BYTES = 998
TEXT_CHARSET = Charset("utf-8")
TEXT_CHARSET.body_encoding = None
ADDRESS_HEADERS = ("From", "To", "Reply-To")
CONNECTION_SETTINGS = ("MAIL_SERVER", "MAIL_PORT", "MAIL_USE_SSL", "MAIL_USE_TLS", "MAIL_USERNAME")


class _Compat32Headers(Compat32):
    """compat32, minus its Header round trip for a value it would write as is: one short line
    of printable ASCII, no trailing space (most headers). ~20 us per header, 13 per message."""

    def fold_binary(self, name, value):
        if (
            isinstance(value, str)
            and value.isascii()
            and value.isprintable()
            and not value.endswith(" ")
            and len(name) + 2 + len(value) <= self.max_line_length
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


GENERATOR_POLICY = _Compat32Headers()
DOT_AT_LINE_START = re.compile(rb"(?m)^\.")  # doubled in a message's data (RFC 5321 4.5.2)


class TransportDown(TransientError):
    """The mail server could not be reached: connection refused or timed out, no route, or it
    closed or refused the session before greeting."""


def build_message(
    *, to: str, rendered: RenderedEmail, reply_to: str | None = None, message_id: str | None = None
) -> Message:
    message = MIMEMultipart("alternative", boundary=_boundary())
    message["From"] = _address_header(current_app.config["MAIL_DEFAULT_SENDER"])
    message["To"] = _address_header(to)
    if reply_to:
        message["Reply-To"] = _address_header(reply_to)
    message["Subject"] = _text_header(rendered.subject)
    message["Date"] = formatdate(localtime=False)
    if message_id:
        message["Message-ID"] = message_id
    message.attach(_text_part(rendered.text))
    message.attach(_quoted_printable_part(rendered.html, "html"))
    return message


def _boundary() -> str:
    """A boundary no body holds by chance (128 random bits; in the quoted-printable HTML "=" is
    =3D), so the generator skips its search of the bodies for one (a regex compiled per email)."""
    return f"=_{secrets.token_hex(16)}"


def _text_part(text: str) -> Message:
    data = text.encode("utf-8")
    if max(map(len, data.splitlines()), default=0) <= MAX_LINE_BYTES:
        return MIMEText(text, "plain", TEXT_CHARSET)
    return _quoted_printable_part(text, "plain")


def _quoted_printable_part(text: str, subtype: str) -> Message:
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(binascii.b2a_qp(text.encode("utf-8")).decode("ascii"))
    return part


def _text_header(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode()


@functools.lru_cache(maxsize=4096)  # the sender's on every email; a pure function of `value`
def _address_header(value: str) -> str:
    """An address header with an IDNA (xn--) domain; a UTF-8 local part is written as 8-bit
    UTF-8 (RFC 6532; compat32 holds such bytes as surrogates), which only SMTPUTF8 may carry."""
    name, address = parseaddr(value)
    if not address.isascii():
        address = _ascii_domain(address)
    if address.isascii():
        return formataddr((name, address), charset="utf-8") if name else address
    header = f'"{quote(name)}" <{address}>' if name else address
    return header.encode("utf-8").decode("ascii", "surrogateescape")


def _ascii_domain(address: str) -> str:
    """`address` with its domain IDNA 2008-encoded, as the contact form's validator reads it."""
    local, _, domain = address.rpartition("@")
    if domain.isascii():
        return address
    try:
        return f"{local}@{validate_email(address, check_deliverability=False).ascii_domain}"
    except EmailNotValidError as error:
        raise PermanentError(f"Cannot encode the address {address}: {error}") from error


def _header_text(message: Message, name: str) -> str | None:
    """A header's value as text: compat32 hands an 8-bit one back as a Header of surrogates."""
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return value.encode("ascii", "surrogateescape").decode("utf-8", "replace")
    return None


def stable_message_id(email_id: int, created_at) -> str:
    """The same Message-ID on every attempt, so a receiver can drop duplicate deliveries."""
    domain = _domain_of(current_app.config["MAIL_DEFAULT_SENDER"])
    return f"<outbox.{email_id}.{int(created_at.timestamp())}@{domain or 'localhost'}>"


@functools.lru_cache(maxsize=64)  # the sender's, on every email: parsing it took ~45 us
def _domain_of(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2]


def _breaker(config) -> Breaker:
    settings = tuple(config[key] for key in CONNECTION_SETTINGS)
    return breaker_for(settings, config["MAIL_PROBE_INTERVAL"])


def wait_before_sending() -> float | None:
    """None when a send may go now (the server is up, or this thread's probe just connected to
    it); otherwise the seconds until the next probe is due, before which sends would be wasted."""
    config = current_app.config
    if not config["MAIL_SERVER"]:
        return None
    breaker = _breaker(config)
    if not breaker.is_down:
        return None
    if not breaker.begin_probe():
        return breaker.wait()
    try:
        _probe(config)
    except TransportDown as error:
        breaker.probe_failed(str(error))
        return breaker.wait()
    except (OSError, smtplib.SMTPException):
        pass  # it answered: the sends will tell what else is wrong
    breaker.probe_succeeded()
    return None


def _probe(config) -> None:
    """Open a session as a send would (greeting, STARTTLS, login, EHLO) and end it."""
    with worker_turns.while_waiting():  # as long as the server makes it
        _quit(_connect(config))


def _quit(smtp: smtplib.SMTP) -> None:
    """End the session politely (QUIT waits for the server's answer), or just close it."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def deliver(message: Message) -> str:
    """Send `message`; returns where it went. Failures come out as Permanent/TransientError;
    a TransportDown also trips the breaker."""
    config = current_app.config
    if not config["MAIL_SERVER"]:
        return _write_eml(message, Path(config["MAIL_FILE_DIR"]))
    try:
        return _send_smtp(message, config)
    except TransportDown as error:
        _breaker(config).trip(str(error))
        raise
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
            _quit(self.smtp)
        self.smtp, self.sent = None, 0


_connection = _ThreadConnection()


def _send_smtp(message: Message, config) -> str:
    settings = tuple(config[key] for key in CONNECTION_SETTINGS)
    data = _flatten(message, linesep="\r\n")
    # The turn is given up for the whole SMTP part (a QUIT, a connect, the exchange), before its
    # first byte: the server may be far, and between its answers there is little to compute.
    with worker_turns.while_waiting():
        _send_on_session(message, data, config, settings)
    return f"{config['MAIL_SERVER']}:{config['MAIL_PORT']}"


def _send_on_session(message: Message, data: bytes, config, settings: tuple) -> None:
    """Send on this thread's session, or on a new one when it cannot be reused."""
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
                _send(_connection.smtp, message, data)
            except smtplib.SMTPServerDisconnected:
                # The server dropped the idle connection (a rare late drop may duplicate the
                # email; the stable Message-ID lets the receiver discard it): send afresh.
                _connection.close()
                reusable = False
        if not reusable:
            _connection.smtp, _connection.settings = _connect(config), settings
            _send(_connection.smtp, message, data)
    except BaseException:
        _connection.close()  # the session's state is unknown: never reuse it
        raise
    _connection.sent += 1
    _connection.last_used = time.monotonic()
    if config["MAIL_KEEPALIVE"] <= 0:
        _connection.close()


def _send(smtp: smtplib.SMTP, message: Message, data: bytes) -> None:
    """send_message, which cannot send a compat32 message over SMTPUTF8; no Bcc to strip."""
    sender, recipients = _envelope(message)
    options = _mail_options(smtp, message, data)
    if smtp.has_extn("pipelining"):
        _send_pipelined(smtp, sender, recipients, data, options)
    else:
        smtp.sendmail(sender, recipients, data, mail_options=options)


def _send_pipelined(
    smtp: smtplib.SMTP, sender: str, recipients: list[str], data: bytes, options: list[str]
) -> None:
    """smtplib's sendmail with PIPELINING (RFC 2920, offered by most servers): MAIL, the RCPTs
    and DATA go in one write and their replies are read in order, one round trip where sendmail
    waits for each (on a distant relay, tens of milliseconds each); then the message. Fails as
    sendmail does; after any failure the caller drops the session rather than RSET it."""
    if smtp.has_extn("size"):
        options = [*options, f"SIZE={len(data)}"]
    if "SMTPUTF8" in options:
        smtp.command_encoding = "utf-8"
    commands = [f"MAIL FROM:{smtplib.quoteaddr(sender)}{''.join(' ' + o for o in options)}"]
    commands += [f"RCPT TO:{smtplib.quoteaddr(recipient)}" for recipient in recipients]
    group = "".join(f"{command}\r\n" for command in [*commands, "DATA"])
    body = _dot_stuffed(data)
    body += b".\r\n" if body.endswith(b"\r\n") else b"\r\n.\r\n"
    smtp.send(group)
    mail_code, mail_reply = smtp.getreply()
    rcpt_replies = [smtp.getreply() for _ in recipients]
    data_code, data_reply = smtp.getreply()
    refused = {
        recipient: reply
        for recipient, reply in zip(recipients, rcpt_replies, strict=True)
        if reply[0] not in (250, 251)
    }
    nothing_to_send = mail_code != 250 or len(refused) == len(recipients)
    if data_code == 354 and nothing_to_send:
        smtp.send(b".\r\n")  # the server took DATA with no recipient: end the empty message
        smtp.getreply()
    if mail_code != 250:
        raise smtplib.SMTPSenderRefused(mail_code, mail_reply, sender)
    if nothing_to_send:
        raise smtplib.SMTPRecipientsRefused(refused)
    if data_code != 354:
        raise smtplib.SMTPDataError(data_code, data_reply)
    smtp.send(body)
    code, reply = smtp.getreply()
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)


def _dot_stuffed(data: bytes) -> bytes:
    # A line starting with "." is rare: two byte searches skip the regex over the whole message.
    if data.startswith(b".") or b"\n." in data:
        return DOT_AT_LINE_START.sub(b"..", data)
    return data


def _envelope(message: Message) -> tuple[str, list[str]]:
    return _addresses(_header_text(message, "From"))[0], _addresses(_header_text(message, "To"))


# Characters of a display name, a group, a comment or a list: a header without them holds one
# bare address, which needs no RFC 5322 parse (about 40 us per header, in every email).
NOT_IN_A_BARE_ADDRESS = frozenset(' \t<>,"();:[]\\')


def _addresses(header: str) -> list[str]:
    if header.isascii() and NOT_IN_A_BARE_ADDRESS.isdisjoint(header):
        return [header]
    return [address for _, address in getaddresses([header])]


def _mail_options(smtp: smtplib.SMTP, message: Message, data: bytes) -> list[str]:
    """BODY=8BITMIME for 8-bit content; SMTPUTF8 for a UTF-8 address, or a permanent failure."""
    options = ["BODY=8BITMIME"] if not data.isascii() and smtp.has_extn("8bitmime") else []
    international = _first_international_address(message)
    if international is None:
        return options
    if not smtp.has_extn("smtputf8"):
        raise PermanentError(
            f"The address {international} needs SMTPUTF8, which the mail server does not offer"
        )
    return [*options, "SMTPUTF8"]


def _first_international_address(message: Message) -> str | None:
    """The first address header with a UTF-8 local part (domains are already xn--)."""
    for name in ADDRESS_HEADERS:
        value = _header_text(message, name)
        if value is not None and not value.isascii():
            return value
    return None


def _flatten(message: Message, linesep: str) -> bytes:
    """The message's bytes; no mbox-style ">From " mangling, which would change the text."""
    buffer = io.BytesIO()
    BytesGenerator(buffer, mangle_from_=False, policy=GENERATOR_POLICY).flatten(
        message, linesep=linesep
    )
    return buffer.getvalue()


def _open(config) -> smtplib.SMTP:
    """Connect and read the greeting; any failure here means the server is not reachable."""
    smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    try:
        return smtp_class(
            config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"]
        )
    except ssl.SSLError:
        raise  # reached, but TLS failed: a setting to fix, not an outage to wait out
    except (OSError, smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected) as error:
        raise TransportDown(f"{type(error).__name__}: {error}") from error


def _connect(config) -> smtplib.SMTP:
    smtp = _open(config)
    try:
        if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.ehlo_or_helo_if_needed()  # the MAIL options depend on the extensions it offers
    except BaseException:
        smtp.close()
        raise
    return smtp


def eml_path(folder: Path, message_id: str) -> Path:
    """Where the embedded default writes (and the console reads) the message with this id."""
    stem = message_id.strip("<>").replace("@", "_").replace("/", "_")
    return folder / f"{stem}.eml"


def _write_eml(message: Message, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = eml_path(folder, message["Message-ID"])
    path.write_bytes(_flatten(message, linesep="\n"))
    log.info("Email to %s written to %s", _header_text(message, "To"), path)
    return str(path)
