"""Evidence from the case page: reports with files come in through the real intake service
(kept under the data folder); officers who may open the case download each file with safe
headers, others get nothing, and every download of a hate case's evidence is audited."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from casework.console import ConsoleSettings
from casework.context import CaseworkContext
from intake.bootstrap import build_case_rules
from intake.messages import Attachment, Channel
from intake.service import IntakeService
from intake.settings import Settings
from storage.models import AuditEvent, Case, Evidence
from storage.uow import Storage
from tests.casework.conftest import Clock
from tests.casework.console.conftest import AREAS, Browser
from tests.intake.test_service import Sender

JPEG = b"\xff\xd8\xff\xe0" + b"photo of the door" * 10
PAGE = b"<html><script>alert('evidence')</script></html>"


@pytest.fixture
def console_view(casework: CaseworkContext, settings: Settings) -> ConsoleSettings:
    return ConsoleSettings(
        casework=casework,
        areas=AREAS,
        service_name="ASB console",
        evidence_dir=Path(settings.service.data_dir) / "evidence",
    )


async def report(
    storage: Storage,
    settings: Settings,
    clock: Clock,
    address: str,
    first: str,
    files: tuple[Attachment, ...],
) -> Case:
    service = IntakeService(storage, settings, clock=clock, rules=build_case_rules(settings))
    web = Sender(service, Channel.WEB, address)
    await web.say(first)
    await web.say("", attachments=files)
    await web.finish_report()
    async with storage.session() as session:
        return (await session.execute(select(Case).order_by(Case.id.desc()).limit(1))).scalar_one()


async def evidence_of(storage: Storage, case: Case) -> list[Evidence]:
    async with storage.session() as session:
        return list(
            (
                await session.execute(
                    select(Evidence).where(Evidence.case_id == case.id).order_by(Evidence.id)
                )
            ).scalars()
        )


async def downloads(storage: Storage) -> list[tuple[str, int | None, int]]:
    async with storage.session() as session:
        rows = (
            await session.execute(
                select(AuditEvent)
                .where(AuditEvent.action == "evidence.downloaded")
                .order_by(AuditEvent.id)
            )
        ).scalars()
        return [(e.actor, e.case_id, e.detail["evidence"]) for e in rows]


@pytest.fixture
async def hate_case(accounts: Storage, settings: Settings, clock: Clock) -> Case:
    files = (
        Attachment("image/jpeg", len(JPEG), "front door.jpg", JPEG),
        Attachment("text/html", len(PAGE), '../../"evil"<b>.html', PAGE),
    )
    case = await report(
        accounts,
        settings,
        clock,
        "web-hate",
        "My neighbour shouts abuse at me because I am Muslim",
        files,
    )
    assert case.hate and case.officer_id == "amara"
    return case


async def test_the_officer_downloads_each_file_with_safe_headers_and_it_is_audited(
    browser: Browser,
    accounts: Storage,
    hate_case: Case,
) -> None:
    photo, page = await evidence_of(accounts, hate_case)
    await browser.sign_in("amara")
    case_page = (await browser.get(f"/console/cases/{hate_case.reference}")).text
    link = f"/console/cases/{hate_case.reference}/evidence/{photo.id}"
    assert f'href="{link}" download>Download front door.jpg</a>' in case_page

    got = await browser.get(link)
    assert got.status_code == 200 and got.content == JPEG
    assert got.headers["content-type"] == "image/jpeg"
    assert got.headers["content-disposition"] == (
        "attachment; filename=\"front door.jpg\"; filename*=UTF-8''front%20door.jpg"
    )
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in got.headers["content-security-policy"]
    assert got.headers["cache-control"] == "no-store"

    html = await browser.get(f"/console/cases/{hate_case.reference}/evidence/{page.id}")
    assert html.status_code == 200 and html.content == PAGE
    assert html.headers["content-type"] == "application/octet-stream"
    disposition = html.headers["content-disposition"]
    assert disposition == "attachment; filename=\"evilb.html\"; filename*=UTF-8''evilb.html"
    assert "/" not in disposition.split("filename*=")[0] and ".." not in disposition

    assert await downloads(accounts) == [
        ("officer:amara", hate_case.id, photo.id),
        ("officer:amara", hate_case.id, page.id),
    ]


async def test_nobody_else_gets_the_file_and_nothing_is_audited_for_them(
    browser: Browser,
    other_browser: Browser,
    accounts: Storage,
    hate_case: Case,
) -> None:
    photo, _ = await evidence_of(accounts, hate_case)
    link = f"/console/cases/{hate_case.reference}/evidence/{photo.id}"
    await browser.sign_in("ben")  # an officer of another area: not his case
    refused = await browser.get(link)
    assert refused.status_code == 404 and JPEG not in refused.content
    await other_browser.sign_in("dan")  # a caretaker: never
    refused = await other_browser.get(link)
    assert refused.status_code == 403 and JPEG not in refused.content
    assert await downloads(accounts) == []


async def test_a_manager_may_and_ids_cannot_cross_cases(
    browser: Browser,
    accounts: Storage,
    settings: Settings,
    clock: Clock,
    hate_case: Case,
) -> None:
    other = await report(
        accounts,
        settings,
        clock,
        "web-door",
        "someone has smashed the glass in the front door of the block",
        (Attachment("image/png", 8, None, b"\x89PNG\r\n\x1a\n"),),
    )
    [png] = await evidence_of(accounts, other)
    photo, _ = await evidence_of(accounts, hate_case)
    await browser.sign_in("chloe")
    crossed = await browser.get(f"/console/cases/{hate_case.reference}/evidence/{png.id}")
    assert crossed.status_code == 404
    assert (
        await browser.get(f"/console/cases/{hate_case.reference}/evidence/x1")
    ).status_code == 404
    unnamed = await browser.get(f"/console/cases/{other.reference}/evidence/{png.id}")
    assert unnamed.status_code == 200 and unnamed.headers["content-type"] == "image/png"
    assert (
        f'filename="{other.reference}-evidence-{png.id}.png"'
        in unnamed.headers["content-disposition"]
    )
    assert (
        await browser.get(f"/console/cases/{hate_case.reference}/evidence/{photo.id}")
    ).status_code == 200
    # Only the hate case's download is audited.
    assert await downloads(accounts) == [("officer:chloe", hate_case.id, photo.id)]


async def test_a_changed_file_is_not_served(
    browser: Browser,
    accounts: Storage,
    settings: Settings,
    hate_case: Case,
) -> None:
    photo, _ = await evidence_of(accounts, hate_case)
    stored = Path(settings.service.data_dir) / "evidence" / photo.sha256
    await asyncio.to_thread(stored.write_bytes, b"something else")
    await browser.sign_in("amara")
    refused = await browser.get(f"/console/cases/{hate_case.reference}/evidence/{photo.id}")
    assert refused.status_code == 409 and "has changed since it was received" in refused.text
    assert refused.headers["content-type"].startswith("text/html")
