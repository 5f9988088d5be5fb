"""Fixtures for the web chat tests: the chat on a real server and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from channels.webchat import WebChatChannel
from tests.channels.web.live import FakeIntake, make_adapter, page_token, serve


@pytest.fixture
def intake() -> FakeIntake:
    return FakeIntake()


@pytest.fixture
def adapter(intake: FakeIntake) -> WebChatChannel:
    return make_adapter(intake)


@pytest.fixture
async def base_url(adapter: WebChatChannel) -> AsyncIterator[str]:
    async with serve(adapter) as url:
        yield url


class Chat:
    """A browser's view of the chat, over HTTP: one cookie jar, the page's token."""

    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self.client = client
        self.base_url = base_url
        self.token = ""

    async def open(self) -> httpx.Response:
        """GET /chat and remember the page's form token."""
        response = await self.client.get("/chat")
        self.token = page_token(response.text)
        return response

    async def post(
        self,
        path: str = "/chat/send",
        *,
        data: dict[str, str] | None = None,
        files: Any = None,
        as_json: bool = True,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST as our page would: same Origin, the token in the form."""
        fields = {"csrf_token": self.token if token is None else token, **(data or {})}
        if token == "":
            del fields["csrf_token"]
        sent_headers = {"Origin": self.base_url}
        if as_json:
            sent_headers["Accept"] = "application/json"
        sent_headers.update(headers or {})
        return await self.client.post(path, data=fields, files=files, headers=sent_headers)


@pytest.fixture
async def chat(base_url: str) -> AsyncIterator[Chat]:
    async with httpx.AsyncClient(base_url=base_url, follow_redirects=False) as client:
        page = Chat(client, base_url)
        await page.open()
        yield page
