"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

import asyncio
import socket
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mailbox:
    def __init__(self, smtputf8: bool = True, pipelining: bool = True):
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []  # as received: raw content, MAIL FROM options
        self.peers: list[tuple] = []  # the client address each message came from
        self.arrived_at: list[float] = []  # time.monotonic() when each message was taken
        self._arrived = threading.Condition()
        self.port = free_port()
        self.rejected: set[str] = set()  # recipients answered with 550
        self.deferred: set[str] = set()  # recipients answered with 451 (try again later)
        self.rcpt_pause = 0.0  # seconds to stall at RCPT, to catch a sender mid-send
        self.smtputf8 = smtputf8  # offer the SMTPUTF8 extension (RFC 6531) in EHLO
        self.pipelining = pipelining  # offer PIPELINING (RFC 2920), as most servers do
        self.commands: list[tuple[str, bool]] = []  # each command, and whether it came pipelined
        self.on_command = lambda command: None  # as EHLO, MAIL, RCPT, DATA, QUIT are handled
        self._controller = self._new_controller()

    def _new_controller(self) -> Controller:
        return Controller(self, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=self.smtputf8)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.on_command("EHLO")
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self._note_command("MAIL", server)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    def _note_command(self, command: str, server) -> None:
        # Whether the client sent more before this command was answered: a pipelined group.
        self.commands.append((command, bool(server._reader._buffer)))
        self.on_command(command)

    async def handle_QUIT(self, server, session, envelope):
        self.on_command("QUIT")
        return "221 Bye"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self._note_command("RCPT", server)
        await asyncio.sleep(self.rcpt_pause)
        if address in self.rejected:
            return "550 5.1.1 No such user here"
        if address in self.deferred:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.on_command("DATA")
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self._arrived:
            self.messages.append(message)
            self.envelopes.append(envelope)
            self.peers.append(session.peer)
            self.arrived_at.append(time.monotonic())
            self._arrived.notify_all()
        return "250 Message accepted"

    def start(self) -> "Mailbox":
        self._controller.start()
        return self

    def stop(self) -> None:
        """Close the port (and every open session): connections are refused until restart()."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def restart(self) -> None:
        """Come back on the same port, as a mail server does after an outage."""
        self._controller = self._new_controller()
        self._controller.start()

    def offer_smtputf8(self, offered: bool) -> None:
        """Restart on the same port with SMTPUTF8 offered or not."""
        self.stop()
        self.smtputf8 = offered
        self.restart()

    def offer_pipelining(self, offered: bool) -> None:
        """Restart on the same port with PIPELINING offered or not."""
        self.stop()
        self.pipelining = offered
        self.restart()

    def clear(self) -> None:
        with self._arrived:
            self.messages.clear()

    def wait_for(self, count: int = 1, timeout: float = 20) -> list[EmailMessage]:
        """Block until `count` messages have arrived; fail the test after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} emails, got {len(self.messages)}")
                self._arrived.wait(remaining)
        return list(self.messages)


def text_body(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
