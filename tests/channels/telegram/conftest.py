"""A running Telegram adapter: its router served by uvicorn on loopback, the real
python-telegram-bot Application talking to the stand-in Bot API over HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from channels.telegram import TelegramChannel
from channels.telegram_sandbox import SANDBOX_SECRET, TelegramSandbox
from intake.messages import Handled, InboundMessage

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_bytes(name: str) -> bytes:
    """A captured update body, byte for byte."""
    return (FIXTURES / f"{name}.json").read_bytes()


def fixture_json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(fixture_bytes(name))
    return data


class RecordingHandler:
    """Stands in for the intake service: records every message handed on."""

    def __init__(self) -> None:
        self.messages: list[InboundMessage] = []
        self.inline: list[bool] = []
        self.arrived = asyncio.Event()

    async def __call__(self, message: InboundMessage, *, inline: bool = False) -> Handled:
        self.messages.append(message)
        self.inline.append(inline)
        self.arrived.set()
        return Handled(replies=(), first_delivery=True)

    async def wait_for(self, count: int, within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while len(self.messages) < count:
                self.arrived.clear()
                await self.arrived.wait()


@dataclass
class Running:
    """An adapter started against its own server, with a client for posting to it."""

    adapter: TelegramChannel
    handler: RecordingHandler
    client: httpx.AsyncClient
    base_url: str

    @property
    def sandbox(self) -> TelegramSandbox:
        assert self.adapter.sandbox is not None
        return self.adapter.sandbox

    async def post_update(
        self, body: bytes, secret: str | None = SANDBOX_SECRET
    ) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        return await self.client.post("/webhooks/telegram", content=body, headers=headers)


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def running_adapter(
    mode: str = "webhook", prepare: Callable[[TelegramSandbox], None] | None = None,
    **options: Any,
) -> AsyncIterator[Running]:
    """Serve a sandbox adapter's router on a free loopback port, then start the adapter."""
    sock = _free_socket()
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    handler = RecordingHandler()
    adapter = TelegramChannel(
        token=None, mode=mode,  # type: ignore[arg-type]
        webhook_secret=None, api_base_url=None, public_base_url=base_url, handle=handler,
        **options,
    )
    if prepare is not None and adapter.sandbox is not None:
        prepare(adapter.sandbox)
    app = FastAPI()
    app.include_router(adapter.router())
    server = uvicorn.Server(uvicorn.Config(
        app, log_level="warning", lifespan="off", ws="none", http="h11",
    ))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(5):
            while not server.started:  # noqa: ASYNC110 (uvicorn offers only a flag)
                await asyncio.sleep(0.01)
        await adapter.start()
        try:
            async with httpx.AsyncClient(base_url=base_url) as client:
                yield Running(adapter, handler, client, base_url)
        finally:
            await adapter.stop()
    finally:
        server.should_exit = True
        await serving
        sock.close()


@pytest.fixture
async def telegram() -> AsyncIterator[Running]:
    """A sandbox adapter in webhook mode."""
    async with running_adapter() as running:
        yield running


@pytest.fixture
def start_adapter() -> Callable[..., Any]:
    """For tests that need other options (polling mode, a smaller file limit)."""
    return running_adapter

