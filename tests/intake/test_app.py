"""/metrics over real HTTP: only a scraper with the configured bearer token reads it; without a
token configured nobody does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from intake.app import create_app
from intake.settings import load_settings
from storage.uow import Storage
from tests.channels.twilio.conftest import base_url_of, free_socket, serving
from tests.conftest import REPO

TOKEN = "scrape-me-please-0123456789abcdef"


def registry() -> CollectorRegistry:
    found = CollectorRegistry()
    counter = Counter("intake_inbound_messages", "Messages received", ["channel"], registry=found)
    counter.labels("sms").inc(3)
    return found


async def served(tmp_path: Path, environ: dict[str, str]) -> AsyncIterator[str]:
    settings = load_settings(
        REPO / "config.yaml", {"INTAKE_SERVICE__DATA_DIR": str(tmp_path), **environ}
    )
    storage = Storage.from_url(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    sock = free_socket()
    try:
        async with serving(create_app(settings, storage, registry=registry()), sock):
            yield base_url_of(sock)
    finally:
        await storage.close()


@pytest.fixture
async def with_token(tmp_path: Path) -> AsyncIterator[str]:
    async for url in served(tmp_path, {"INTAKE_SERVICE__METRICS_TOKEN": TOKEN}):
        yield url


@pytest.fixture
async def without_token(tmp_path: Path) -> AsyncIterator[str]:
    async for url in served(tmp_path, {}):
        yield url


async def test_the_scraper_with_the_token_reads_the_metrics(with_token: str) -> None:
    async with httpx.AsyncClient(base_url=with_token) as client:
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert 'intake_inbound_messages_total{channel="sms"} 3.0' in response.text
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong-token-0123456789abcdef0",
        f"Basic {TOKEN}",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
    ],
    ids=["none", "empty", "no-token", "wrong", "basic", "one-short", "one-more"],
)
async def test_anyone_else_is_refused_and_learns_nothing(
    with_token: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with httpx.AsyncClient(base_url=with_token) as client:
        response = await client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="metrics"'
    assert "intake_inbound_messages" not in response.text


async def test_without_a_configured_token_metrics_are_not_served_to_anyone(
    without_token: str,
) -> None:
    async with httpx.AsyncClient(base_url=without_token) as client:
        for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": f"Bearer {TOKEN}"}):
            response = await client.get("/metrics", headers=headers)
            assert response.status_code == 404
            assert "intake_inbound_messages" not in response.text
        assert (await client.get("/healthz")).status_code in (200, 503)
