"""Web chat test support: a stand-in intake handler and the chat served by a real uvicorn.

Used by the HTTP tests here and by the browser test in ``tests/browser``.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import uvicorn
from fastapi import FastAPI

from channels.webchat import WebChatChannel
from intake.messages import Handled, InboundMessage, Option, Reply

SECRET_KEY = "test-secret-key-for-web-chat-0123456789"
LANDLORD = "Northfield Homes"
NOW = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)

DANGER = Reply(
    "Is anyone in immediate danger right now?",
    options=(Option("yes", "Yes"), Option("no", "No")),
    question_id="q.danger",
)
WHEN = Reply("When did it happen? For example: last night about 11pm.", question_id="q.when")
BYE = Reply("OK. Bye.")


@dataclass
class FakeIntake:
    """Stands in for the intake service (an ``InboundHandler``).

    It records every call and answers a repeated ``external_id`` with its first answer, as the
    service does. A new report is echoed and followed by a question with options; a choice is
    echoed and followed by a question without.
    """

    calls: list[tuple[InboundMessage, bool]] = field(default_factory=list)
    answered: dict[str, Handled] = field(default_factory=dict)
    failing: bool = False
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, message: InboundMessage, *, inline: bool = False) -> Handled:
        self.calls.append((message, inline))
        self._arrived.set()
        if self.failing:
            raise RuntimeError("the database is down")
        first = self.answered.get(message.external_id)
        if first is not None:
            return replace(first, first_delivery=False)
        handled = Handled(replies=self._answer(message), first_delivery=True)
        self.answered[message.external_id] = handled
        return handled

    @staticmethod
    def _answer(message: InboundMessage) -> tuple[Reply, ...]:
        if message.text == "exit":
            return (BYE,)
        if message.choice is not None:
            return (Reply(f"You chose: {message.text}"), WHEN)
        return (Reply(f"We got: {message.text}"), DANGER)

    @property
    def messages(self) -> list[InboundMessage]:
        """What was handed in, in order."""
        return [message for message, _ in self.calls]

    async def wait_for_text(self, text: str, seconds: float = 5) -> None:
        """Wait until a message with this text has been handed in (it may come late)."""
        async with asyncio.timeout(seconds):
            while text not in (message.text for message in self.messages):
                self._arrived.clear()
                await self._arrived.wait()


def make_adapter(intake: FakeIntake, *, cookie_secure: bool = False) -> WebChatChannel:
    """The adapter as the composition root builds it, with a fixed clock."""
    return WebChatChannel(
        secret_key=SECRET_KEY,
        session_max_age_seconds=3600,
        cookie_secure=cookie_secure,
        landlord=LANDLORD,
        handle=intake,
        clock=lambda: NOW,
    )


@asynccontextmanager
async def serve(adapter: WebChatChannel) -> AsyncIterator[str]:
    """Serve the adapter's router with uvicorn on a free loopback port; yield the base URL."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(adapter.router())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", ws="none", http="h11", access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def page_token(html: str) -> str:
    """The form token on a rendered page."""
    found = _TOKEN.search(html)
    assert found, "no csrf_token on the page"
    return found.group(1)
