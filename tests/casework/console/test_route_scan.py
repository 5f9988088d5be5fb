"""A route scan: no console route but the sign-in form and the static files answers without a
session, and the whole app has no other open route beyond the public ones named here.

Each route is tried with every method it takes, with no cookie, with a cookie that is not ours,
and with the cookie of a session that has been signed out; path parameters are filled with a
case that exists, so a route that forgot its check would answer 200.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from casework.action_links import action_link_router
from casework.console import ConsoleSettings, console_router
from casework.console.auth import SESSION_COOKIE
from casework.console.routes import PUBLIC_ROUTES
from casework.context import CaseworkContext
from intake.app import create_app
from intake.runner import build_adapters
from intake.settings import Settings
from storage.uow import Storage
from tests.casework.conftest import Clock, open_case
from tests.casework.console.conftest import BASE, SECRET, Browser

OPEN_OUTSIDE_THE_CONSOLE = {
    # The public routes: webhooks (each verifies its sender) and the health check.
    ("POST", "/webhooks/twilio/messages"): "webhook: Twilio signature",
    ("POST", "/webhooks/twilio/status"): "webhook: Twilio signature",
    ("POST", "/webhooks/telegram"): "webhook: Telegram secret token",
    ("GET", "/healthz"): "health check",
    # One-click links in officer alerts: the signed token (one officer, case and verb, expiring)
    # is the capability; GET only shows a button, POST acts.
    ("GET", "/officer/act/{token}"): "signed one-click link: shows a button",
    ("POST", "/officer/act/{token}"): "signed one-click link: acts with the token",
    # The reporters' own web chat: anyone may report; it keeps its own signed session.
    ("GET", "/chat"): "reporters' web chat",
    ("POST", "/chat/send"): "reporters' web chat (session cookie and form token)",
    ("POST", "/chat/exit"): "reporters' web chat (session cookie and form token)",
    ("GET", "/chat/messages"): "reporters' web chat (its own session's lines only)",
    ("GET", "/chat/static/{name}"): "static files",
    # Sandbox only: the stand-in APIs the real Twilio and Telegram SDKs call (each checks the
    # SDK's credentials as the real API does; mounted only without a real account).
    ("POST", "/sandbox/twilio/2010-04-01/Accounts/{sid}/Messages.json"): "sandbox: Basic auth",
    ("GET", "/sandbox/telegram/bot{token}/{method}"): "sandbox: bot token",
    ("POST", "/sandbox/telegram/bot{token}/{method}"): "sandbox: bot token",
    ("GET", "/sandbox/telegram/file/bot{token}/{file_path:path}"): "sandbox: bot token",
    # What the stand-ins sent is listed only in the console (/console/sandbox), for managers.
}
"""Every route outside /console that answers without a console session, and why."""

NEEDS_A_TOKEN = {
    ("GET", "/metrics"): "Prometheus: bearer token from INTAKE_SERVICE__METRICS_TOKEN",
}
"""Routes outside /console that are not open: they answer only a configured credential."""


def routes(app_routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Every (method, path) of an app, through included routers."""
    for route in app_routes:
        if hasattr(route, "original_router"):
            yield from routes(route.original_router.routes, prefix + route.include_context.prefix)
        else:
            for method in sorted(getattr(route, "methods", None) or {"GET"}):
                if method != "HEAD":
                    yield method, prefix + route.path


def bare_console_app(storage: Storage, view: ConsoleSettings, clock: Clock) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(console_router(storage=storage, settings_view=view, clock=clock,
                                      secret_key=SECRET, cookie_secure=False))
    return app


async def test_every_console_route_but_sign_in_and_static_needs_a_session(
    console_app: FastAPI, browser: Browser, accounts: Storage, casework: CaseworkContext,
    clock: Clock,
) -> None:
    case = await open_case(accounts, casework, clock.now)
    await browser.sign_in("root")  # an administrator: every page exists for this role
    signed_out = browser.client.cookies.get(SESSION_COOKIE) or ""
    await browser.post("/console/logout")

    scanned = 0
    protected = [(m, p) for m, p in routes(console_app.routes) if p not in PUBLIC_ROUTES]
    assert len(protected) >= 17
    cookies = {"none": None, "not ours": "garbage.value.here", "signed out": signed_out}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=console_app), base_url=BASE
    ) as client:
        for method, path in protected:
            url = path.replace("{reference}", case.reference)
            for why, cookie in cookies.items():
                client.cookies.clear()
                if cookie is not None:
                    client.cookies.set(SESSION_COOKIE, cookie, path="/console")
                response = await client.request(
                    method, url, data={"csrf_token": "x", "reason": "resolved",
                                       "confirm": "yes", "body": "hi", "officer": "ben"},
                    headers={"Origin": BASE, "Sec-Fetch-Site": "same-origin"},
                )
                scanned += 1
                if method == "GET":
                    assert response.status_code == 303, (method, path, why)
                    assert response.headers["location"].startswith("/console/login?next="), path
                else:
                    assert response.status_code == 403, (method, path, why, response.text)
                    assert "session has ended" in response.text
    assert scanned == len(protected) * 3
    # Nothing was changed by all those posts.
    async with accounts.session() as session:
        from storage.models import Case

        stored = await session.get(Case, case.id)
        assert stored is not None and stored.status == "open" and stored.officer_id == "amara"


async def test_the_public_console_routes_are_only_sign_in_and_static(
    console_app: FastAPI,
) -> None:
    public = {(m, p) for m, p in routes(console_app.routes) if p in PUBLIC_ROUTES}
    assert public == {
        ("GET", "/console/login"), ("POST", "/console/login"),
        ("GET", "/console/static/{name}"),
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=console_app), base_url=BASE
    ) as client:
        assert (await client.get("/console/static/console.css")).status_code == 200
        assert (await client.get("/console/static/secrets.txt")).status_code == 404
        assert (await client.get("/console/static/..%2Fauth.py")).status_code == 404


async def test_the_whole_app_has_no_other_open_routes(
    settings: Settings, accounts: Storage, console_view: ConsoleSettings, clock: Clock
) -> None:
    async def handle(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("not called")

    adapters = build_adapters(
        settings, handle, handle, lambda: datetime.now(UTC), SECRET, "http://127.0.0.1:1", 2
    )
    # Wired as intake/runner.py wires it.
    console = console_router(storage=accounts, settings_view=console_view, clock=clock,
                             secret_key=SECRET, cookie_secure=False)
    links = action_link_router(accounts, console_view.casework, clock)
    app = create_app(settings, accounts, adapters, CollectorRegistry(), routers=[console, links])
    every = set(routes(app.routes))
    console = {(m, p) for m, p in every if p.startswith("/console")}
    assert every - console == set(OPEN_OUTSIDE_THE_CONSOLE) | set(NEEDS_A_TOKEN)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        # No token configured (the default): nobody reads the metrics.
        assert (await client.get("/metrics")).status_code == 404
        # The stand-in APIs answer only the SDKs' (sandbox) credentials, as the real ones do.
        create = "/sandbox/twilio/2010-04-01/Accounts/AC" + "0" * 32 + "/Messages.json"
        refused = await client.post(create, data={"To": "+447700900123", "Body": "hi"})
        assert (refused.status_code, refused.json()["code"]) == (401, 20003)
        for method in ("GET", "POST"):
            bot = await client.request(method, "/sandbox/telegram/bot999:WRONG/getMe")
            assert (bot.status_code, bot.json()["ok"]) == (401, False)
        file = await client.get("/sandbox/telegram/file/bot999:WRONG/files/x")
        assert file.status_code == 401
    with_token = settings.model_copy(update={"service": settings.service.model_copy(
        update={"metrics_token": SecretStr("t" * 32)})})
    guarded = create_app(with_token, accounts, adapters, CollectorRegistry())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded),
                                 base_url=BASE) as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers={"Authorization": "Bearer " + "t" * 32})
                ).status_code == 200
    assert {p for _, p in console} - PUBLIC_ROUTES == {
        p for _, p in routes(bare_console_app(accounts, console_view, clock).routes)
    } - PUBLIC_ROUTES
