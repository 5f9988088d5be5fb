"""One-click links in officer alerts: opening one changes nothing; the button acts."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from casework.action_links import action_link_router
from casework.context import context_from_settings
from intake.bootstrap import sync_team
from intake.settings import load_settings
from storage.models import AuditEvent, Case
from storage.uow import Storage
from tests.conftest import REPO

NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


async def test_get_shows_a_button_and_post_acknowledges(storage: Storage) -> None:
    settings = load_settings(REPO / "config.yaml", {})
    await sync_team(storage, settings.team)
    context = context_from_settings(settings, secret="test-secret")
    async with storage.unit_of_work() as uow:
        reference = await uow.cases.next_reference(2026)
        await uow.cases.add(
            Case(
                reference=reference,
                priority="P1",
                category="hate_incident",
                hate=True,
                received_at=NOW,
                officer_id="amara",
                deadline_at=NOW,
            )
        )
    assert context.links is not None
    url = context.links.url("ack", reference, "amara", NOW)
    path = url.split("127.0.0.1:8080", 1)[1]
    app = FastAPI()
    app.include_router(action_link_router(storage, context, lambda: NOW))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        page = await client.get(path)
        assert page.status_code == 200 and "<button" in page.text and reference in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]
        async with storage.session() as session:
            assert not (await session.execute(select(AuditEvent))).scalars().all()
        done = await client.post(path)
        assert done.status_code == 200
        forged = await client.get(path[:-3] + "abc")
        assert "expired" in forged.text
    async with storage.session() as session:
        actions = set((await session.execute(select(AuditEvent.action))).scalars())
    assert actions, "acting on the link is audited"
