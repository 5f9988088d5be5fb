"""Email channel test support: real SMTP on loopback both ways, and a recording intake handler.

Fixtures in ``fixtures/`` are messages as mail clients write them (Gmail, Outlook, Apple Mail,
a Postfix bounce, an out-of-office), with example.* domains. They are stored with LF line
ends and delivered with CRLF, as SMTP carries them.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from channels.email import EmailChannel
from intake.messages import Handled, InboundMessage, Reply

FIXTURES = Path(__file__).parent / "fixtures"
OUR_ADDRESS = "report@asb.example.org"
FROM_ADDRESS = "report@asb.example.org"
REPORTER = "sam.okafor@example.net"
NOW = datetime(2026, 3, 4, 19, 40, 5, tzinfo=UTC)
LOOPBACK = "127.0.0.1"


def load(name: str) -> bytes:
    """``fixtures/<name>.eml`` with CRLF line ends, as it travels over SMTP."""
    data = (FIXTURES / f"{name}.eml").read_bytes()
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class RecordingHandler:
    """Stands in for the intake service: records every call; can fail the first few."""

    failures: int = 0
    calls: list[InboundMessage] = field(default_factory=list)
    stored: list[InboundMessage] = field(default_factory=list)

    async def __call__(self, message: InboundMessage, *, inline: bool = False) -> Handled:
        self.calls.append(message)
        if self.failures:
            self.failures -= 1
            raise RuntimeError("database unavailable")
        first = all(m.external_id != message.external_id for m in self.stored)
        if first:
            self.stored.append(message)
        return Handled(
            replies=(Reply("Thank you."),), first_delivery=first, inbound_id=len(self.stored)
        )


@dataclass
class Received:
    """One message as the relay stand-in received it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class Relay:
    """The smarthost replies go through: an aiosmtpd server on loopback recording mail."""

    def __init__(self, *, rcpt_status: str | None = None, password: str | None = None) -> None:
        self.rcpt_status = rcpt_status
        self.password = password
        self.received: list[Received] = []
        self.logins: list[tuple[bytes, bytes]] = []
        self.arrived = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt_status is not None:
            return self.rcpt_status
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(
            Received(envelope.mail_from or "", list(envelope.rcpt_tos),
                     envelope.original_content or b"")
        )
        self.arrived.set()
        return "250 OK queued"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        ok = self.password is not None and data.password == self.password.encode()
        return AuthResult(success=ok, handled=False)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        options: dict[str, Any] = {}
        if self.password is not None:
            options = {"authenticator": self.authenticate, "auth_require_tls": False}
        self.server = await loop.create_server(
            lambda: SMTP(self, hostname="relay.test", loop=loop, **options), LOOPBACK, 0
        )

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def wait(self, count: int = 1) -> list[Received]:
        async with asyncio.timeout(5):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.received

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    server = Relay()
    await server.start()
    yield server
    await server.stop()


ChannelFactory = Callable[..., Awaitable[EmailChannel]]


@pytest.fixture
async def make_channel(
    handler: RecordingHandler, relay: Relay, clock: Clock
) -> AsyncIterator[ChannelFactory]:
    """Start an email channel on a random loopback port; settings may be overridden."""
    started: list[EmailChannel] = []

    async def make(**overrides: Any) -> EmailChannel:
        settings: dict[str, Any] = {
            "listen_host": LOOPBACK,
            "listen_port": 0,
            "addresses": (OUR_ADDRESS,),
            "from_address": FROM_ADDRESS,
            "max_message_bytes": 1_000_000,
            "relay_host": LOOPBACK,
            "relay_port": relay.port,
            "relay_starttls": False,
            "relay_username": None,
            "relay_password": None,
            "replies_per_sender_per_hour": 12,
            "handle": handler,
            "clock": clock,
        }
        settings.update(overrides)
        channel = EmailChannel(**settings)
        await channel.start()
        started.append(channel)
        return channel

    yield make
    for channel in started:
        await channel.stop()


@pytest.fixture
async def channel(make_channel: ChannelFactory) -> EmailChannel:
    return await make_channel()


async def deliver(
    channel: EmailChannel,
    raw: bytes,
    *,
    sender: str = REPORTER,
    recipient: str = OUR_ADDRESS,
) -> str:
    """Send ``raw`` to the channel over SMTP as a mail server would; the answer to DATA.

    Sent with ``aiosmtplib.send``; ``sender=""`` gives a null return path (``MAIL FROM:<>``),
    as bounces have, which needs aiosmtplib's client object.
    """
    if sender:
        _, answer = await aiosmtplib.send(
            raw, sender=sender, recipients=[recipient], hostname=LOOPBACK, port=channel.port,
            start_tls=False, timeout=10,
        )
        return answer
    async with aiosmtplib.SMTP(hostname=LOOPBACK, port=channel.port, timeout=10) as client:
        await client.mail("")
        await client.rcpt(recipient)
        response = await client.data(raw)
    return response.message
