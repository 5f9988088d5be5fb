"""Console fixtures: the console router in a FastAPI app, reached with httpx over ASGI, a team
with console passwords (an officer each for north and south, a manager, a caretaker and an
administrator made for the console only), and a client that signs in like a browser."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from casework.console import AreaView, ConsoleSettings, console_router
from casework.console.auth import hash_password
from casework.context import CaseworkContext
from storage.models import Officer
from storage.uow import Storage
from tests.casework.conftest import Clock

PASSWORD = "correct horse battery staple"
SECRET = "console-test-secret-key-0123456789"
BASE = "http://console.test"
AREAS = (
    AreaView("north", "North estates", ("Elm Court", "Ash House")),
    AreaView("south", "South estates", ("Oak Tower",)),
)
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@lru_cache(maxsize=1)
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def console_view(casework: CaseworkContext) -> ConsoleSettings:
    return ConsoleSettings(casework=casework, areas=AREAS, service_name="ASB console")


@pytest.fixture
async def accounts(team_storage: Storage) -> Storage:
    """The team with passwords, and ``root``: an administrator made for the console."""
    async with team_storage.unit_of_work() as uow:
        for officer in await uow.officers.all():
            officer.password_hash = password_hash()
        uow.session.add(
            Officer(
                id="root", name="Rita Root", role="admin", alert_by="email", areas=[],
                active=True, console_only=True, password_hash=password_hash(),
            )
        )
    return team_storage


@pytest.fixture
def console_app(accounts: Storage, console_view: ConsoleSettings, clock: Clock) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(
        console_router(
            storage=accounts, settings_view=console_view, clock=clock, secret_key=SECRET,
            cookie_secure=False,
        )
    )
    return app


class Browser:
    """An httpx client that keeps cookies and sends the headers a browser sends on posts."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.token = ""

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.client.get(path, **kwargs)
        found = _TOKEN.search(response.text) if response.headers.get(
            "content-type", "").startswith("text/html") else None
        if found:
            self.token = found.group(1)
        return response

    async def post(
        self, path: str, data: dict[str, str] | None = None, *, token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        form = {"csrf_token": self.token if token is None else token, **(data or {})}
        sent = {"Origin": BASE, "Sec-Fetch-Site": "same-origin", **(headers or {})}
        return await self.client.post(path, data=form, headers=sent)

    async def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        await self.get("/console/login")
        response = await self.post(
            "/console/login", {"username": username, "password": password}
        )
        if response.status_code == 303:
            await self.get("/console/queue")
        return response


@pytest.fixture
async def browser(console_app: FastAPI) -> AsyncIterator[Browser]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=console_app), base_url=BASE
    ) as client:
        yield Browser(client)


@pytest.fixture
async def other_browser(console_app: FastAPI) -> AsyncIterator[Browser]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=console_app), base_url=BASE
    ) as client:
        yield Browser(client)


async def change(storage: Storage, reference: str, **fields: Any) -> None:
    """Set columns of a case directly (what other parts of the service would have done)."""
    from sqlalchemy import update

    from storage.models import Case

    async with storage.unit_of_work() as uow:
        await uow.session.execute(
            update(Case).where(Case.reference == reference).values(**fields)
        )
