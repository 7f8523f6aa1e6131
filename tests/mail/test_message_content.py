"""What the contact form accepts, SMTP accepts: long lines, any text, international addresses."""

from email import message_from_bytes, policy
from html import escape
from pathlib import Path

import pytest

from saas.extensions import db, huey
from saas.mail.models import OutboundEmail
from tests.support.smtp import text_body

# One line of 5,000 characters (the form's maximum), well over 998 bytes in UTF-8, with
# characters quoted-printable must escape.
LONG_LINE = ("Déjà vu = 100% sure; see https://example.com/a?b=c " * 100)[:4999] + "!"
SHORT_LINES = "From the start:\n.a line that starts with a dot\nGrüße, ça va?\ttab"
IDNA_ADDRESS, IDNA_ASCII = "ada@exämple.com", "ada@xn--exmple-cua.com"
UTF8_ADDRESS, UTF8_ENCODED = "zoë@exämple.com", "zoë@xn--exmple-cua.com"
SMTPUTF8_MISSING = (
    f"The address {UTF8_ENCODED} needs SMTPUTF8, which the mail server does not offer"
)


def submit(auth, email="ada@example.com", message="Hello!"):
    fields = {"name": "Ada Lovelace", "email": email, "message": message}
    response = auth.post("/contact", fields, token_from="/contact")
    assert response.status_code == 303
    return response


def emails(app) -> list[OutboundEmail]:
    with app.app_context():
        query = db.select(OutboundEmail).order_by(OutboundEmail.id)
        return db.session.execute(query).scalars().all()


def by_template(app, mailbox) -> dict:
    """The delivered messages with their envelopes, keyed by template."""
    delivered = {
        message["Message-ID"]: (message, envelope)
        for message, envelope in zip(mailbox.messages, mailbox.envelopes, strict=True)
    }
    return {e.template: delivered[e.message_id] for e in emails(app) if e.message_id in delivered}


def raw_line_lengths(content: bytes) -> list[int]:
    return [len(line) for line in content.split(b"\r\n")]


def test_a_5000_character_line_arrives_intact_with_no_line_over_998_bytes(
    app, auth, mailbox, run_queued_tasks
):
    submit(auth, message=LONG_LINE)
    assert run_queued_tasks() == 2
    mailbox.wait_for(2)
    assert [(e.status, e.attempts) for e in emails(app)] == [("sent", 1), ("sent", 1)]
    sent = by_template(app, mailbox)
    message, _ = sent["contact_message"]  # the acknowledgement quotes nothing (issue 12)
    assert LONG_LINE in text_body(message).splitlines()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert escape(LONG_LINE, quote=False) in html
    text_part = message.get_body(preferencelist=("plain",))
    assert text_part["Content-Transfer-Encoding"] == "quoted-printable"
    for _, envelope in sent.values():
        assert max(raw_line_lengths(envelope.content)) <= 998
        assert b"\n" not in envelope.content.replace(b"\r\n", b"")  # no bare line ends


@pytest.mark.parametrize("pipelining", [True, False])
def test_short_lines_stay_8bit_and_arrive_exactly_as_written(
    app, auth, mailbox, run_queued_tasks, pipelining
):
    mailbox.offer_pipelining(pipelining)
    submit(auth, message=SHORT_LINES)
    run_queued_tasks()
    mailbox.wait_for(2)
    sent = by_template(app, mailbox)
    assert SHORT_LINES in text_body(sent["contact_message"][0])  # no ">From", no lost dot
    for message, envelope in sent.values():
        assert message.get_body(preferencelist=("plain",))["Content-Transfer-Encoding"] == "8bit"
        assert "BODY=8BITMIME" in envelope.mail_options
        assert f"SIZE={len(envelope.original_content)}" in envelope.mail_options


def test_a_non_ascii_domain_is_sent_idna_encoded(app, auth, mailbox, run_queued_tasks):
    submit(auth, email=IDNA_ADDRESS)
    run_queued_tasks()
    mailbox.wait_for(2)
    sent = by_template(app, mailbox)
    to_us, to_us_envelope = sent["contact_message"]
    acknowledgement, acknowledgement_envelope = sent["contact_acknowledgement"]
    assert to_us["Reply-To"] == IDNA_ASCII
    assert to_us_envelope.rcpt_tos == ["support@saas.test"]
    assert acknowledgement["To"] == IDNA_ASCII
    assert acknowledgement_envelope.rcpt_tos == [IDNA_ASCII]
    assert all("SMTPUTF8" not in e.mail_options for _, e in sent.values())
    assert IDNA_ADDRESS in text_body(to_us)  # the body shows the address as typed


@pytest.mark.parametrize("pipelining", [True, False])
def test_a_non_ascii_local_part_is_sent_with_smtputf8_when_offered(
    app, auth, mailbox, run_queued_tasks, pipelining
):
    mailbox.offer_pipelining(pipelining)
    submit(auth, email=UTF8_ADDRESS)
    run_queued_tasks()
    mailbox.wait_for(2)
    sent = by_template(app, mailbox)
    to_us, to_us_envelope = sent["contact_message"]
    acknowledgement, acknowledgement_envelope = sent["contact_acknowledgement"]
    assert to_us["Reply-To"] == UTF8_ENCODED
    assert acknowledgement["To"] == UTF8_ENCODED
    assert acknowledgement_envelope.rcpt_tos == [UTF8_ENCODED]
    assert all("SMTPUTF8" in e.mail_options for _, e in sent.values())
    assert UTF8_ENCODED.encode() in acknowledgement_envelope.content  # RFC 6532: raw UTF-8
    assert {e.status for e in emails(app)} == {"sent"}


@pytest.mark.app_config(CONTACT_LIMIT_PER_VISITOR="5 per minute")
def test_a_non_ascii_local_part_fails_at_once_when_smtputf8_is_not_offered(
    app, auth, mailbox, run_queued_tasks
):
    mailbox.offer_smtputf8(False)
    submit(auth, email=UTF8_ADDRESS)
    assert run_queued_tasks() == 2
    failed = emails(app)
    assert [(e.status, e.attempts) for e in failed] == [("failed", 1), ("failed", 1)]
    assert {e.last_error for e in failed} == {f"PermanentError: {SMTPUTF8_MISSING}"}
    assert huey.pending_count() == 0 and huey.scheduled_count() == 0
    assert mailbox.messages == []
    submit(auth, email="ada@example.com")  # the same server still takes ASCII addresses
    run_queued_tasks()
    assert len(mailbox.wait_for(2)) == 2


@pytest.mark.app_config(MAIL_SERVER=None)
def test_eml_files_carry_international_addresses_and_long_lines(
    app, auth, mailbox, run_queued_tasks
):
    submit(auth, email=UTF8_ADDRESS, message=LONG_LINE)
    run_queued_tasks()
    files = sorted((Path(app.instance_path) / "mail").glob("*.eml"))
    assert len(files) == 2
    parsed = [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    assert {m["To"] for m in parsed} == {"support@saas.test", UTF8_ENCODED}
    assert [m["Reply-To"] for m in parsed if m["To"] == "support@saas.test"] == [UTF8_ENCODED]
    [to_us] = [m for m in parsed if m["To"] == "support@saas.test"]
    assert LONG_LINE in text_body(to_us).splitlines()  # the acknowledgement quotes nothing
    for eml in files:
        assert max(len(line) for line in eml.read_bytes().split(b"\n")) <= 998
    assert {e.status for e in emails(app)} == {"sent"}
    assert mailbox.messages == []
