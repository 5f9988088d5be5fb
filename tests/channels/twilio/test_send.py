"""Sending through the real Twilio SDK, against the sandbox stand-in served on loopback."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from channels.base import Outgoing
from channels.twilio import STATUS_PATH, TwilioChannel
from channels.twilio_sandbox import SANDBOX_ACCOUNT_SID
from intake.messages import Channel, Reply
from intake.render import render_sms

from .conftest import (
    OUR_NUMBER,
    REPLIES,
    REPORTER,
    AdapterFactory,
    asgi_client,
    base_url_of,
    free_socket,
    serving,
)


def outgoing(channel: Channel = Channel.SMS, recipient: str = REPORTER,
             replies: tuple[Reply, ...] = REPLIES, **context: str) -> Outgoing:
    return Outgoing(key="outbox-1", channel=channel, recipient=recipient, replies=replies,
                    context=dict(context))


@pytest.fixture
async def sandboxed(make_adapter: AdapterFactory) -> AsyncIterator[TwilioChannel]:
    """A sandbox adapter whose stand-in API is served by uvicorn at its public URL."""
    sock = free_socket()
    adapter = make_adapter(account_sid="", auth_token=None, public_base_url=base_url_of(sock))
    app = FastAPI()
    app.include_router(adapter.router())
    async with serving(app, sock):
        await adapter.start()
        yield adapter


async def test_a_send_is_recorded_by_the_stand_in(sandboxed: TwilioChannel) -> None:
    assert sandboxed.sandbox is not None
    base = sandboxed.status_callback_url.removesuffix(STATUS_PATH)

    result = await sandboxed.send(outgoing())

    [sent] = sandboxed.sandbox.sent
    assert result.ok and result.external_id == sent.sid
    assert sent.sid.startswith("SM") and len(sent.sid) == 34
    assert (sent.to, sent.from_, sent.account_sid) == (REPORTER, OUR_NUMBER, SANDBOX_ACCOUNT_SID)
    assert [sent.body] == render_sms(REPLIES)
    assert sent.status_callback == base + STATUS_PATH
    async with httpx.AsyncClient() as client:
        # What was sent is listed only in the console, behind a session (/console/sandbox).
        assert (await client.get(base + "/sandbox/twilio/sent")).status_code == 404


async def test_the_stand_in_logs_at_info_neither_number_nor_text(
    sandboxed: TwilioChannel, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="channels"):
        await sandboxed.send(outgoing())

    body = render_sms(REPLIES)[0]
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert any("sandbox" in line and "***123" in line and f"{len(body)} characters" in line
               for line in lines)
    assert not any(REPORTER in line or body in line for line in lines)


async def test_urgent_text_goes_first_as_its_own_message(sandboxed: TwilioChannel) -> None:
    assert sandboxed.sandbox is not None
    replies = (*REPLIES, Reply("If you are in danger now, call 999.", urgent=True))

    result = await sandboxed.send(outgoing(replies=replies))

    first, second = sandboxed.sandbox.sent
    assert [first.body, second.body] == render_sms(replies)
    assert first.body.startswith("If you are in danger now")
    assert result.ok and result.external_id == second.sid


async def test_whatsapp_sends_between_whatsapp_addresses(sandboxed: TwilioChannel) -> None:
    assert sandboxed.sandbox is not None

    result = await sandboxed.send(outgoing(Channel.WHATSAPP, "+447700900456"))

    [sent] = sandboxed.sandbox.sent
    assert result.ok
    assert (sent.to, sent.from_) == ("whatsapp:+447700900456", "whatsapp:" + OUR_NUMBER)


async def test_the_reply_leaves_from_the_number_the_reporter_texted(
    sandboxed: TwilioChannel,
) -> None:
    assert sandboxed.sandbox is not None

    await sandboxed.send(outgoing(to="+447700900999"))

    assert sandboxed.sandbox.sent[0].from_ == "+447700900999"


async def test_an_opted_out_recipient_is_reported_as_opted_out(
    sandboxed: TwilioChannel,
) -> None:
    assert sandboxed.sandbox is not None
    sandboxed.sandbox.opt_out(REPORTER)

    result = await sandboxed.send(outgoing())

    assert (result.ok, result.opted_out, result.retryable) == (False, True, False)
    assert "21610" in (result.error or "")
    assert sandboxed.sandbox.sent == ()


async def test_an_invalid_number_is_a_permanent_failure(sandboxed: TwilioChannel) -> None:
    result = await sandboxed.send(outgoing(recipient="07700 900123"))

    assert (result.ok, result.opted_out, result.retryable) == (False, False, False)
    assert "21211" in (result.error or "")


async def test_wrong_credentials_are_a_permanent_failure(
    sandboxed: TwilioChannel, make_adapter: AdapterFactory
) -> None:
    # A live-configured adapter pointed at the stand-in: the stand-in refuses its account.
    stand_in = sandboxed.status_callback_url.removesuffix(STATUS_PATH) + "/sandbox/twilio"
    live = make_adapter(api_base_url=stand_in)

    result = await live.send(outgoing())

    assert (result.ok, result.retryable) == (False, False)
    assert "20003" in (result.error or "")


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_server_errors_and_rate_limits_are_retryable(
    make_adapter: AdapterFactory, status: int
) -> None:
    failing = FastAPI()

    @failing.post("/2010-04-01/Accounts/{sid}/Messages.json")
    async def create(sid: str, request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"code": 20500 if status >= 500 else 20429,
                             "message": "Try again", "status": status}, status_code=status)

    sock = free_socket()
    adapter = make_adapter(api_base_url=base_url_of(sock))
    async with serving(failing, sock):
        result = await adapter.send(outgoing())

    assert (result.ok, result.retryable, result.opted_out) == (False, True, False)


async def test_a_refused_connection_is_retryable(make_adapter: AdapterFactory) -> None:
    sock = free_socket()
    closed = base_url_of(sock)
    sock.close()  # nothing listens there now
    adapter = make_adapter(api_base_url=closed)

    result = await adapter.send(outgoing())

    assert (result.ok, result.retryable) == (False, True)


async def test_another_channel_is_refused_without_a_call(sandboxed: TwilioChannel) -> None:
    assert sandboxed.sandbox is not None

    result = await sandboxed.send(outgoing(Channel.EMAIL, "someone@example.org"))

    assert (result.ok, result.retryable) == (False, False)
    assert sandboxed.sandbox.sent == ()


async def test_stop_closes_the_sdk_session(sandboxed: TwilioChannel) -> None:
    await sandboxed.send(outgoing())
    session: Any = sandboxed.client.http_client.session

    await sandboxed.stop()

    assert session.closed


async def test_health_says_sandbox_without_an_account(
    make_adapter: AdapterFactory,
) -> None:
    assert await make_adapter(account_sid="", auth_token=None).health() == "sandbox"
    assert await make_adapter(auth_token=None).health() == "sandbox"
    assert await make_adapter().health() == "ok"


async def test_sandbox_mode_points_the_sdk_at_the_stand_in(make_adapter: AdapterFactory) -> None:
    adapter = make_adapter(account_sid="", auth_token=None,
                           public_base_url="http://127.0.0.1:8000/")

    assert adapter.account_sid == SANDBOX_ACCOUNT_SID
    assert adapter.client.api.base_url == "http://127.0.0.1:8000/sandbox/twilio"


async def test_the_stand_in_is_mounted_only_in_sandbox_mode(
    make_adapter: AdapterFactory,
) -> None:
    create = f"/sandbox/twilio/2010-04-01/Accounts/{SANDBOX_ACCOUNT_SID}/Messages.json"
    async with asgi_client(make_adapter()) as live:
        assert (await live.post(create, data={"To": REPORTER, "Body": "hi"})).status_code == 404
    async with asgi_client(make_adapter(account_sid="", auth_token=None)) as sandbox:
        # Mounted, and like Twilio it wants the account's credentials (error 20003).
        response = await sandbox.post(create, data={"To": REPORTER, "Body": "hi"})
        assert (response.status_code, response.json()["code"]) == (401, 20003)
