"""MMS and WhatsApp media: fetched with the account's Basic auth, within type and size limits.

A local server stands in for Twilio's media URLs: it wants Basic auth, then redirects to the
content (as Twilio redirects to its storage), which it serves with a Content-Length or chunked.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web

from channels.twilio import MESSAGES_PATH

from .conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    AdapterFactory,
    RecordingHandler,
    asgi_client,
    load_fixture,
    post_form,
)


def png(width: int = 2, height: int = 2) -> bytes:
    """A real, small PNG image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000") + b"\x00" * 64 + b"\xff\xd9"
PNG = png()


@dataclass
class Served:
    content_type: str
    data: bytes
    chunked: bool = False
    status: int = 200


@dataclass
class MediaServer:
    base_url: str
    items: dict[str, Served] = field(default_factory=dict)
    authorizations: list[str | None] = field(default_factory=list)
    content_requests: list[str] = field(default_factory=list)

    def media_urls(self, fields: dict[str, str]) -> dict[str, str]:
        """The fixture's fields with Twilio's media host replaced by this server."""
        return {k: v.replace("https://api.twilio.com", self.base_url) for k, v in fields.items()}


@pytest.fixture
async def media_server() -> AsyncIterator[MediaServer]:
    server = MediaServer(base_url="")

    async def media(request: web.Request) -> web.StreamResponse:
        authorization = request.headers.get("Authorization")
        server.authorizations.append(authorization)
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if authorization != expected:
            return web.json_response({"code": 20003, "message": "Authenticate"}, status=401)
        raise web.HTTPTemporaryRedirect(f"/content/{request.match_info['media']}")

    async def content(request: web.Request) -> web.StreamResponse:
        name = request.match_info["media"]
        server.content_requests.append(name)
        item = server.items.get(name)
        if item is None or item.status != 200:
            return web.Response(status=item.status if item else 404)
        if not item.chunked:
            return web.Response(body=item.data, content_type=item.content_type)
        response = web.StreamResponse(headers={"Content-Type": item.content_type})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(item.data), 4096):
            await response.write(item.data[start:start + 4096])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/2010-04-01/Accounts/{sid}/Messages/{message}/Media/{media}", media)
    app.router.add_get("/content/{media}", content)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server.base_url = f"http://{host}:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


MMS = load_fixture("mms")
FIRST = MMS["MediaUrl0"].rsplit("/", 1)[1]
SECOND = MMS["MediaUrl1"].rsplit("/", 1)[1]


async def test_mms_media_are_fetched_with_basic_auth(
    webhook: httpx.AsyncClient, handler: RecordingHandler, media_server: MediaServer
) -> None:
    media_server.items = {FIRST: Served("image/jpeg", JPEG), SECOND: Served("image/png", PNG)}
    fields = media_server.media_urls(MMS)

    response = await post_form(webhook, MESSAGES_PATH, fields)

    assert response.status_code == 200
    [message] = handler.messages
    first, second = message.attachments
    assert (first.content_type, first.data, first.size, first.url) == (
        "image/jpeg", JPEG, len(JPEG), fields["MediaUrl0"])
    assert (second.content_type, second.data, second.size) == ("image/png", PNG, len(PNG))
    assert second.kind == "photo"
    expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert media_server.authorizations == [expected, expected]


async def test_media_over_the_size_limit_are_not_fetched(
    make_adapter: AdapterFactory, handler: RecordingHandler, media_server: MediaServer
) -> None:
    adapter = make_adapter(media_max_bytes=len(PNG))
    big = b"\xff\xd8" + b"\x00" * (len(PNG) * 4)
    media_server.items = {FIRST: Served("image/jpeg", big), SECOND: Served("image/png", PNG)}
    fields = media_server.media_urls(MMS)

    async with asgi_client(adapter) as client:
        response = await post_form(client, MESSAGES_PATH, fields)

    assert response.status_code == 200
    first, second = handler.messages[0].attachments
    assert first.data is None
    assert first.url == fields["MediaUrl0"]
    assert first.size == len(big)
    assert second.data == PNG


async def test_media_over_the_size_limit_without_a_length_are_cut_off_while_streaming(
    make_adapter: AdapterFactory, handler: RecordingHandler, media_server: MediaServer
) -> None:
    adapter = make_adapter(media_max_bytes=10_000)
    big = b"\xff\xd8" + b"\x00" * 50_000
    media_server.items = {FIRST: Served("image/jpeg", big, chunked=True),
                          SECOND: Served("image/png", PNG, chunked=True)}
    fields = media_server.media_urls(MMS)

    async with asgi_client(adapter) as client:
        response = await post_form(client, MESSAGES_PATH, fields)

    assert response.status_code == 200
    first, second = handler.messages[0].attachments
    assert first.data is None
    assert first.url == fields["MediaUrl0"]
    assert second.data == PNG


async def test_media_of_a_type_not_accepted_are_not_fetched(
    webhook: httpx.AsyncClient, handler: RecordingHandler, media_server: MediaServer
) -> None:
    media_server.items = {FIRST: Served("image/jpeg", JPEG), SECOND: Served("text/vcard", b"x")}
    fields = {**media_server.media_urls(MMS), "MediaContentType1": "text/vcard"}

    response = await post_form(webhook, MESSAGES_PATH, fields)

    assert response.status_code == 200
    first, second = handler.messages[0].attachments
    assert first.data == JPEG
    assert (second.content_type, second.data, second.url) == (
        "text/vcard", None, fields["MediaUrl1"])
    assert media_server.content_requests == [FIRST]


async def test_media_served_as_another_type_than_declared_are_not_kept(
    webhook: httpx.AsyncClient, handler: RecordingHandler, media_server: MediaServer
) -> None:
    media_server.items = {FIRST: Served("image/jpeg", JPEG),
                          SECOND: Served("text/html", b"<html>not a picture</html>")}
    fields = media_server.media_urls(MMS)

    response = await post_form(webhook, MESSAGES_PATH, fields)

    assert response.status_code == 200
    first, second = handler.messages[0].attachments
    assert first.data == JPEG
    assert second.data is None


async def test_a_failed_media_fetch_keeps_the_message_and_the_url(
    webhook: httpx.AsyncClient, handler: RecordingHandler, media_server: MediaServer
) -> None:
    media_server.items = {FIRST: Served("image/jpeg", JPEG, status=404)}
    fields = media_server.media_urls(MMS)

    response = await post_form(webhook, MESSAGES_PATH, fields)

    assert response.status_code == 200
    [message] = handler.messages
    assert message.text == fields["Body"]
    assert [a.data for a in message.attachments] == [None, None]
    assert [a.url for a in message.attachments] == [fields["MediaUrl0"], fields["MediaUrl1"]]


async def test_media_from_an_unreachable_host_do_not_fail_the_message(
    webhook: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    fields = {k: v.replace("https://api.twilio.com", "http://127.0.0.1:9")
              for k, v in MMS.items()}

    response = await post_form(webhook, MESSAGES_PATH, fields)

    assert response.status_code == 200
    assert [a.data for a in handler.messages[0].attachments] == [None, None]
