"""Failed sign-ins are limited per client address as well as per account, over real HTTP with
uvicorn configured as ``intake serve`` configures it: X-Forwarded-For counts only when the
connection comes from a trusted proxy."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select

from casework.console import ConsoleSettings, console_router
from intake.runner import http_config
from intake.settings import HttpSettings, Settings
from storage.models import AuditEvent
from storage.uow import Storage
from tests.casework.conftest import Clock
from tests.casework.console.conftest import PASSWORD, SECRET
from tests.channels.twilio.conftest import base_url_of, free_socket

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
ALLOWED = 3


@asynccontextmanager
async def served(
    settings: Settings,
    storage: Storage,
    view: ConsoleSettings,
    clock: Clock,
    trusted: tuple[str, ...] = (),
) -> AsyncIterator[str]:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    limited = replace(
        view, failed_sign_ins_per_ip=ALLOWED, failed_sign_ins_window=timedelta(minutes=10)
    )
    app.include_router(
        console_router(
            storage=storage,
            settings_view=limited,
            clock=clock,
            secret_key=SECRET,
            cookie_secure=False,
        )
    )
    configured = settings.model_copy(
        update={
            "http": HttpSettings(trusted_proxies=trusted),
            "service": settings.service.model_copy(update={"log_level": "WARNING"}),
        }
    )
    sock = free_socket()
    server = uvicorn.Server(http_config(app, configured, host="127.0.0.1", port=0))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 (uvicorn offers only a flag)
                await asyncio.sleep(0.01)
        yield base_url_of(sock)
    finally:
        server.should_exit = True
        await task
        sock.close()


async def attempt(
    base: str, username: str, password: str, forwarded_for: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    async with httpx.AsyncClient(base_url=base, headers=headers) as client:
        form = await client.get("/console/login")
        found = _TOKEN.search(form.text)
        assert found is not None, form.text
        return await client.post(
            "/console/login",
            data={"csrf_token": found.group(1), "username": username, "password": password},
            headers={"Origin": base},
        )


async def test_too_many_failures_from_one_address_pause_it_for_every_account(
    settings: Settings,
    accounts: Storage,
    console_view: ConsoleSettings,
    clock: Clock,
) -> None:
    async with served(settings, accounts, console_view, clock) as base:
        # Different accounts, each below its own lockout, and a forged X-Forwarded-For
        # (no proxy is trusted): all from this one address.
        for n, who in enumerate(("amara", "ben", "nobody")):
            wrong = await attempt(base, who, "not the password", f"198.51.100.{n}")
            assert wrong.status_code == 401
        paused = await attempt(base, "chloe", PASSWORD, "198.51.100.77")
        assert paused.status_code == 429
        assert "Too many failed sign-ins from your network" in paused.text
        assert "please wait 10 minutes" in paused.text
        assert 0 < int(paused.headers["retry-after"]) <= 600
        assert "console_session" not in paused.headers.get("set-cookie", "")

        clock.advance(timedelta(minutes=9))
        assert (await attempt(base, "chloe", PASSWORD)).status_code == 429
        clock.advance(timedelta(minutes=1, seconds=1))
        assert (await attempt(base, "chloe", PASSWORD)).status_code == 303
    async with accounts.session() as session:
        paused_events = (
            (
                await session.execute(
                    select(AuditEvent.detail).where(AuditEvent.action == "console.address_paused")
                )
            )
            .scalars()
            .all()
        )
    assert [e["address"] for e in paused_events] == ["127.0.0.1"]


async def test_behind_a_trusted_proxy_each_client_is_counted_on_its_own(
    settings: Settings,
    accounts: Storage,
    console_view: ConsoleSettings,
    clock: Clock,
) -> None:
    async with served(settings, accounts, console_view, clock, trusted=("127.0.0.1",)) as base:
        for _ in range(ALLOWED):
            assert (await attempt(base, "ben", "wrong password!", "203.0.113.5")).status_code == 401
        assert (await attempt(base, "chloe", PASSWORD, "203.0.113.5")).status_code == 429
        # Another client behind the same proxy is not held up by that one.
        assert (await attempt(base, "chloe", PASSWORD, "203.0.113.9")).status_code == 303
        # IPv6 clients count per /64.
        for n in range(ALLOWED):
            await attempt(base, "nobody", "wrong password!", f"2001:db8:1:2::{n + 1}")
        assert (await attempt(base, "chloe", PASSWORD, "2001:db8:1:2::99")).status_code == 429
        assert (await attempt(base, "chloe", PASSWORD, "2001:db8:1:3::1")).status_code == 303


async def test_the_account_lockout_still_applies_below_the_address_limit(
    settings: Settings,
    accounts: Storage,
    console_view: ConsoleSettings,
    clock: Clock,
) -> None:
    async with served(settings, accounts, console_view, clock, trusted=("127.0.0.1",)) as base:
        for n in range(console_view.lockout_after):
            assert (
                await attempt(base, "ben", "wrong password!", f"192.0.2.{n}")
            ).status_code == 401
        locked = await attempt(base, "ben", PASSWORD, "192.0.2.200")
        assert locked.status_code == 401 and "locked" in locked.text
