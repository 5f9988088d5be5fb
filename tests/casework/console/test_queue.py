"""The queue: deadlines first with breaches at the top, countdowns, filters, and each role's
view (officers their own cases, managers every case)."""

from __future__ import annotations

import re
from datetime import timedelta

from casework.context import CaseworkContext
from storage.uow import Storage
from tests.casework.conftest import Clock, open_case
from tests.casework.console.conftest import Browser, change


def references(html: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/console/cases/([A-Z0-9-]+)">', html)


async def test_breaches_come_first_then_deadlines_then_contacted_cases(
    browser: Browser, accounts: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    start = clock.now
    late = await open_case(accounts, casework, start - timedelta(days=5), priority="P1")
    soon = await open_case(accounts, casework, start, priority="P1", category="hate_incident")
    later = await open_case(accounts, casework, start, priority="P2", category="noise")
    contacted = await open_case(
        accounts, casework, start - timedelta(days=2), priority="P2", category="noise",
        first_contact_at=start - timedelta(days=1),
    )
    closed = await open_case(
        accounts, casework, start - timedelta(days=9), priority="P2", category="noise"
    )
    await change(accounts, closed.reference, status="closed", closed_at=start - timedelta(days=1))
    await browser.sign_in("chloe")
    page = await browser.get("/console/queue")
    assert references(page.text) == [
        late.reference, soon.reference, later.reference, contacted.reference
    ]
    assert "1 past the first-contact deadline" in page.text
    assert "overdue by" in page.text and "due in" in page.text
    every = await browser.get("/console/queue?status=all")
    assert references(every.text)[-1] == closed.reference
    breached = await browser.get("/console/queue?breached=1")
    assert references(breached.text) == [late.reference]


async def test_filters_narrow_the_queue_and_unknown_values_are_ignored(
    browser: Browser, accounts: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    hate = await open_case(accounts, casework, clock.now, priority="P1")
    noise = await open_case(
        accounts, casework, clock.now, priority="P2", category="noise", officer_id="ben"
    )
    await change(accounts, noise.reference, area_code="south")
    await browser.sign_in("chloe")
    cases = {
        "priority=P2": [noise.reference],
        "category=hate_incident": [hate.reference],
        "officer=ben": [noise.reference],
        "area=north": [hate.reference],
        "area=south&priority=P1": [],
        "priority=P9&officer=nobody": [hate.reference, noise.reference],
    }
    for query, expected in cases.items():
        page = await browser.get(f"/console/queue?{query}")
        assert page.status_code == 200
        assert references(page.text) == expected, query


async def test_officers_see_only_their_own_cases(
    browser: Browser, accounts: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    mine = await open_case(accounts, casework, clock.now, officer_id="amara")
    theirs = await open_case(accounts, casework, clock.now, officer_id="ben")
    await browser.sign_in("amara")
    page = await browser.get("/console/queue?officer=ben")
    assert references(page.text) == [mine.reference]
    assert (await browser.get(f"/console/cases/{theirs.reference}")).status_code == 404
    assert (await browser.get(f"/console/cases/{mine.reference}")).status_code == 200


async def test_the_queue_pages_through_many_cases(
    browser: Browser, accounts: Storage, casework: CaseworkContext, clock: Clock,
    console_view: object,
) -> None:
    for hours in range(53):
        await open_case(accounts, casework, clock.now + timedelta(minutes=hours), priority="P2",
                        category="noise")
    await browser.sign_in("chloe")
    first = await browser.get("/console/queue")
    second = await browser.get("/console/queue?page=2")
    assert len(references(first.text)) == 50 and len(references(second.text)) == 3
    assert "Page 2 of 2" in second.text and 'rel="prev"' in second.text
