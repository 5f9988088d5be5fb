"""axe-core in Debian's chromium over the console's main pages and the web chat: no WCAG 2.x
A or AA violations (2.0, 2.1 and 2.2 rules).

axe-core comes bundled in the ``axe-playwright-python`` package (the ``[test]`` extra): nothing
is fetched at test time. The pages carry real content: reports with hostile text from every
channel, evidence, an offensive graffiti job, the monthly charts, a chat with answer buttons.
Skipped with the reason when chromium is not installed, except under CI=true, where it fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page

from casework.context import context_from_settings
from casework.scheduler import drain
from storage.models import Case, Evidence
from tests.browser.test_console import FRIDAY_4PM, SECRET, browser, open_page, sign_in, world
from tests.browser.test_webchat import open_context
from tests.casework.conftest import open_case
from tests.channels.web.live import FakeIntake, make_adapter, serve

__all__ = ["browser"]  # the fixture, shared with the console's browser tests

WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
AXE = Axe()


async def violations(page: Page) -> list[str]:
    """axe's WCAG A/AA violations on the page as it is now, one readable line per node."""
    results = await AXE.run(
        page,
        options={"runOnly": {"type": "tag", "values": WCAG_A_AA}, "resultTypes": ["violations"]},
    )
    found: list[dict[str, Any]] = results.response["violations"]
    return [
        f"{page.url}: {v['id']} ({v['impact']}): {v['help']} at {' '.join(node['target'])}: "
        f"{node.get('failureSummary', '')}"
        for v in found
        for node in v["nodes"]
    ]


async def test_the_console_pages_have_no_wcag_a_or_aa_violations(
    browser: Browser, tmp_path: Path
) -> None:
    async with world(tmp_path) as built:
        casework = context_from_settings(built.settings, secret=SECRET)
        await open_case(
            built.storage,
            casework,
            FRIDAY_4PM,
            category="graffiti",
            priority="P1",
            hate=False,
            offensive_graffiti=True,
        )
        await drain(built.storage, casework, lambda: FRIDAY_4PM, "a11y-test")
        reference = next(iter(built.references))
        async with built.storage.unit_of_work() as uow:
            case = await uow.cases.by_reference(reference)
            assert isinstance(case, Case)
            uow.session.add(
                Evidence(
                    case_id=case.id,
                    kind="photo",
                    content_type="image/jpeg",
                    filename="<b>door</b>.jpg",
                    size=10,
                    sha256="0" * 64,
                    stored_at="not fetched",
                )
            )
        found: list[str] = []
        checked: list[str] = []
        context, page, _ = await open_page(browser)
        try:
            await page.goto(f"{built.base_url}/console/login")
            checked.append(page.url)
            found += await violations(page)
            # The check can fail: an image without a text alternative and an unlabelled
            # field, added by hand, are reported.
            await page.evaluate("""() => {
                const main = document.querySelector('main');
                main.insertAdjacentHTML('beforeend', '<img src="data:,"><input name="x">');
            }""")
            caught = " ".join(await violations(page))
            assert "image-alt" in caught and "label" in caught, caught
            await page.reload()
            await sign_in(page, built.base_url, "chloe")  # a manager sees every page
            for path in (
                "/console/queue",
                f"/console/cases/{reference}",
                "/console/jobs",
                "/console/reports",
                "/console/sandbox",
            ):
                await page.goto(built.base_url + path)
                assert page.url.startswith(built.base_url + path), page.url
                checked.append(page.url)
                found += await violations(page)
            # A page with a notice and the login form's error state.
            await page.goto(f"{built.base_url}/console/queue?status=closed&priority=P1")
            found += await violations(page)
        finally:
            await context.close()
        context, page, _ = await open_page(browser)
        try:
            await page.goto(f"{built.base_url}/console/login")
            await page.get_by_label("Username").fill("chloe")
            await page.get_by_label("Password").fill("not the password")
            await page.keyboard.press("Enter")
            await page.wait_for_selector("#error")
            found += await violations(page)
            await sign_in(page, built.base_url, "dan")  # a caretaker's job board
            await page.goto(f"{built.base_url}/console/jobs")
            found += await violations(page)
        finally:
            await context.close()
    assert len(checked) == 6
    assert found == [], "\n".join(found)


async def test_the_web_chat_has_no_wcag_a_or_aa_violations(browser: Browser) -> None:
    async with serve(make_adapter(FakeIntake())) as base_url:
        context = await open_context(browser)
        try:
            page = await context.new_page()
            await page.goto(f"{base_url}/chat")
            found = await violations(page)
            # With a conversation under way: a reply and a question with answer buttons.
            await page.get_by_label("Your message").fill("<b>They</b> bang on my door at night")
            await page.keyboard.press("Enter")
            await page.get_by_role("button", name="Yes").wait_for()
            found += await violations(page)
        finally:
            await context.close()
    assert found == [], "\n".join(found)
