"""Twilio channel test support: fixtures as Twilio posts them, signing, fake intake handlers.

Fixtures in ``fixtures/`` are the form fields of real Twilio webhooks, in the order Twilio
sends them, with numbers from Ofcom's drama range. Requests are signed with the SDK's own
``RequestValidator``, as Twilio signs them.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from twilio.request_validator import RequestValidator

from channels.twilio import TwilioChannel
from intake.messages import Channel, Handled, InboundMessage, Option, Reply

FIXTURES = Path(__file__).parent / "fixtures"

ACCOUNT_SID = "ACfd3f6d8e2b3c4a5b6c7d8e9f0a1b2c3d"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC_BASE_URL = "https://asb.example.org"
INTERNAL_BASE_URL = "http://127.0.0.1:8000"
"""Where requests arrive in tests: the app behind a TLS-terminating proxy."""
OUR_NUMBER = "+447700900000"
REPORTER = "+447700900123"
MEDIA_TYPES = ("image/jpeg", "image/png", "audio/ogg", "video/mp4", "application/pdf")

REPLIES = (
    Reply("Thank you. We have your report."),
    Reply("Is anyone in danger right now?",
          options=(Option("yes", "Yes"), Option("no", "No")), question_id="danger"),
)


def load_fixture(name: str) -> dict[str, str]:
    """The form fields of ``fixtures/<name>.json``, in Twilio's order."""
    data: dict[str, str] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def sign(url: str, fields: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature for a POST of ``fields`` to ``url``, as Twilio computes it."""
    return str(RequestValidator(token).compute_signature(url, fields))


@dataclass
class RecordingHandler:
    """Stands in for the intake service: records calls, answers redeliveries as the first time.

    The replies include how many messages it has seen, so a redelivery answered with fresh
    replies instead of the first ones would show.
    """

    calls: list[tuple[InboundMessage, bool]] = field(default_factory=list)
    answered: dict[str, Handled] = field(default_factory=dict)

    async def __call__(self, message: InboundMessage, *, inline: bool = False) -> Handled:
        self.calls.append((message, inline))
        first = self.answered.get(message.external_id)
        if first is not None:
            return replace(first, first_delivery=False)
        replies = (*REPLIES, Reply(f"Message {len(self.calls)} received."))
        handled = Handled(replies=replies, first_delivery=True)
        self.answered[message.external_id] = handled
        return handled

    @property
    def messages(self) -> list[InboundMessage]:
        return [message for message, _ in self.calls]


@dataclass
class RecordingDelivery:
    """Stands in for the outbox's delivery-state update."""

    calls: list[tuple[Channel, str, str, str | None]] = field(default_factory=list)

    async def __call__(
        self, channel: Channel, external_id: str, status: str, error_code: str | None = None
    ) -> None:
        self.calls.append((channel, external_id, status, error_code))


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture
def delivery() -> RecordingDelivery:
    return RecordingDelivery()


AdapterFactory = Callable[..., TwilioChannel]


@pytest.fixture
async def make_adapter(
    handler: RecordingHandler, delivery: RecordingDelivery
) -> AsyncIterator[AdapterFactory]:
    """Build adapters (live account by default); each is stopped after the test."""
    made: list[TwilioChannel] = []

    def make(**overrides: Any) -> TwilioChannel:
        options: dict[str, Any] = {
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "from_number": OUR_NUMBER,
            "whatsapp_from": "whatsapp:" + OUR_NUMBER,
            "public_base_url": PUBLIC_BASE_URL,
            "api_base_url": None,
            "trust_forwarded_headers": False,
            "media_max_bytes": 5_000_000,
            "media_types": MEDIA_TYPES,
            "handle": handler,
            "on_delivery": delivery,
        }
        options.update(overrides)
        adapter = TwilioChannel(**options)
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        await adapter.stop()


@pytest.fixture
def adapter(make_adapter: AdapterFactory) -> TwilioChannel:
    return make_adapter()


@asynccontextmanager
async def asgi_client(
    adapter: TwilioChannel, base_url: str = INTERNAL_BASE_URL
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for an app serving ``adapter``'s routes, requests arriving at base_url."""
    app = FastAPI()
    app.include_router(adapter.router())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        yield client


@pytest.fixture
async def webhook(adapter: TwilioChannel) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(adapter) as client:
        yield client


async def post_form(
    client: httpx.AsyncClient,
    path: str,
    fields: dict[str, str],
    *,
    signed_url: str | None = None,
    token: str = AUTH_TOKEN,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST ``fields`` form-encoded, signed for ``signed_url`` (the public URL by default)."""
    body = urlencode(fields).encode()
    all_headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    signature = sign(signed_url or PUBLIC_BASE_URL + path, fields, token)
    all_headers.setdefault("X-Twilio-Signature", signature)
    return await client.post(path, content=body, headers=all_headers)


def free_socket() -> socket.socket:
    """A listening-ready socket on a free loopback port (no race with another test)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def base_url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()
    return f"http://{host}:{port}"


@asynccontextmanager
async def serving(app: FastAPI, sock: socket.socket) -> AsyncIterator[None]:
    """Serve ``app`` with uvicorn on ``sock`` in a background task on this loop."""
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none", http="h11")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    sock = free_socket()
    yield sock
    sock.close()
