"""What the sandbox stand-ins "sent" is listed in the console, for managers only, behind a
session: the real Twilio SDK and python-telegram-bot send to the stand-ins over loopback HTTP,
and the console's sandbox page shows those messages (escaped) with their buttons."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from casework.console import ConsoleSettings, console_router
from channels.base import ChannelAdapter, Outgoing
from intake.messages import Channel, Option, Reply
from intake.runner import build_adapters, sandbox_reader
from intake.settings import Settings
from storage.models import AuditEvent
from storage.uow import Storage
from tests.casework.conftest import Clock
from tests.casework.console.conftest import BASE, SECRET, Browser
from tests.channels.twilio.conftest import base_url_of, free_socket, serving

HOSTILE = "<script>window.__pwned = 1</script> see you at 5"


@pytest.fixture
async def sandboxed(
    settings: Settings, accounts: Storage, console_view: ConsoleSettings, clock: Clock
) -> AsyncIterator[tuple[FastAPI, list[ChannelAdapter]]]:
    """The app as intake/runner.py wires it in sandbox mode, served on loopback for the SDKs."""

    async def handle(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("nothing is received in this test")

    sock = free_socket()
    adapters = [
        a
        for a in build_adapters(settings, handle, handle, clock, SECRET, base_url_of(sock))
        if {c.value for c in a.channels} & {"sms", "telegram"}
    ]
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    for adapter in adapters:
        router = adapter.router()
        assert router is not None
        app.include_router(router)
    app.include_router(
        console_router(
            storage=accounts,
            settings_view=console_view,
            clock=clock,
            secret_key=SECRET,
            cookie_secure=False,
            sandbox=sandbox_reader(adapters),
        )
    )
    async with serving(app, sock):
        for adapter in adapters:
            await adapter.start()
        try:
            yield app, adapters
        finally:
            for adapter in adapters:
                await adapter.stop()


async def send_on_each(adapters: list[ChannelAdapter]) -> None:
    question = Reply("Is anyone in danger?", options=(Option("yes", "Yes"), Option("no", "No")))
    for adapter, channel, to in (
        (adapters[0], Channel.SMS, "+447700900123"),
        (adapters[0], Channel.WHATSAPP, "whatsapp:+447700900124"),
        (adapters[1], Channel.TELEGRAM, "5550123"),
    ):
        replies = (Reply(HOSTILE), question) if channel is Channel.TELEGRAM else (Reply(HOSTILE),)
        result = await adapter.send(
            Outgoing(
                key=f"k-{channel}",
                channel=channel,
                recipient=to,
                replies=replies,
                context={"chat_id": to},
            )
        )
        assert result.ok, result.error


async def test_a_manager_sees_what_the_stand_ins_sent(
    sandboxed: tuple[FastAPI, list[ChannelAdapter]],
    accounts: Storage,
) -> None:
    app, adapters = sandboxed
    await send_on_each(adapters)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        manager = Browser(c)
        await manager.sign_in("chloe")
        page = await manager.get("/console/sandbox")
        assert page.status_code == 200
        assert '<a href="/console/sandbox" aria-current="page">Sandbox</a>' in page.text
        assert HOSTILE not in page.text and html.escape(HOSTILE) in page.text
        for words in ("+447700900123", "whatsapp:+447700900124", "5550123", "Yes, No"):
            assert words in page.text
        listed = (await manager.get("/console/sandbox/sent.json")).json()
    assert listed["sandbox"] is True
    assert [(m["channel"], m["to"], m["text"], m["buttons"]) for m in listed["messages"]] == [
        ("sms", "+447700900123", HOSTILE, []),
        ("whatsapp", "whatsapp:+447700900124", HOSTILE, []),
        ("telegram", "5550123", HOSTILE, []),
        ("telegram", "5550123", "Is anyone in danger?", ["Yes", "No"]),
    ]
    async with accounts.session() as session:
        views = (
            await session.execute(
                select(AuditEvent.actor).where(AuditEvent.action == "sandbox.viewed")
            )
        ).scalars()
        assert list(views) == ["officer:chloe", "officer:chloe"]


async def test_officers_and_caretakers_cannot_and_nobody_without_a_session(
    sandboxed: tuple[FastAPI, list[ChannelAdapter]],
) -> None:
    app, adapters = sandboxed
    await send_on_each(adapters)
    for who in ("amara", "dan"):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
            browser = Browser(c)
            await browser.sign_in(who)
            for path in ("/console/sandbox", "/console/sandbox/sent.json"):
                response = await browser.get(path)
                assert response.status_code == 403, (who, path)
                assert HOSTILE not in response.text and "5550123" not in response.text
            assert "/console/sandbox" not in (await browser.get("/console/")).text
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        for path in (
            "/console/sandbox/sent.json",
            "/sandbox/twilio/sent",
            "/sandbox/telegram/sent",
        ):
            response = await c.get(path)
            assert response.status_code in (303, 404), path
            assert "5550123" not in response.text


async def test_without_sandboxes_the_page_says_so(browser: Browser) -> None:
    await browser.sign_in("root")
    page = await browser.get("/console/sandbox")
    assert page.status_code == 200
    assert "No channel is in sandbox mode" in page.text
    assert 'href="/console/sandbox"' not in page.text.split("<main", 1)[0]
    assert (await browser.get("/console/sandbox/sent.json")).json() == {
        "sandbox": False,
        "messages": [],
    }
