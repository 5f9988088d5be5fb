"""A web chat conversation through ``intake serve`` in Chromium, from the first words to the
acknowledgement with a reference. (Keyboard use is covered by tests/browser/test_webchat.py.)"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect

from tests.browser.test_webchat import CHROMIUM_ARGS, chromium_path
from tests.e2e.conftest import Running, start, stop

ANSWERS = {
    "Which fits best?": "Harassment or intimidation",
    "immediate danger": "No",
    "for yourself or for someone else": "Myself",
    "When did it happen": "last night about 10pm",
    "How often": "A few times",
    "still going on": "Yes",
    "Where did it happen": "Elm Court stairwell, DH1",
    "know who did it": "Yes, an adult",
    "photos, video or recordings": "Yes, later",
    "because of someone's race": "No",
    "Which of these apply": "1 2",
    "share your report with the police": "Yes",
    "give your name": "Give my name",
    "What is your name?": "Sam Jones",
    "What is your address": "12 Elm Court, DH1 3AB",
    "How would you like us to contact you": "Here, like this",
    "safe for us to leave you messages": "Yes",
    "How often would you like an update": "Every 2 weeks",
    "put you in touch with support": "No",
    "to talk to us": "none",
    "Is this right?": "Yes, send it",
}


@pytest.fixture
def running(tmp_path: Path) -> AsyncIterator[Running]:
    server = start(tmp_path)
    yield server  # type: ignore[misc]
    stop(server)


async def last_bot_text(page: Page) -> str:
    bubbles = page.locator("[role=log] .bot, [role=log] [data-from=bot]")
    count = await bubbles.count()
    if count:
        return str(await bubbles.nth(count - 1).inner_text())
    return str(await page.locator("[role=log]").inner_text())


async def test_a_web_chat_report_through_intake_serve(running: Running) -> None:
    executable = chromium_path()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(running.base_url + "/chat")
            box = page.get_by_label(re.compile("message", re.IGNORECASE))
            await box.fill("my neighbour keeps threatening me and kicking my door")
            await box.press("Enter")
            log = page.locator("[role=log]")
            await expect(log).to_contain_text("Which fits best?", timeout=20_000)
            for _ in range(40):
                text = await log.inner_text()
                if re.search(r"Your reference is ASB-\d{4}-\d{6}", text):
                    break
                tail = text[-700:]
                question = max(ANSWERS, key=lambda fragment: tail.rfind(fragment))
                assert tail.rfind(question) >= 0, tail
                answer = ANSWERS[question]
                button = page.get_by_role("button", name=answer, exact=True)
                if question == "Which fits best?":
                    button = page.locator("button.choice").first
                bot_lines = page.locator("[role=log] .msg-bot")
                replies_before = await bot_lines.count()
                if await button.count():
                    try:
                        await button.last.click(timeout=10_000)
                    except Exception as exc:
                        raise AssertionError(f"{answer!r} for {question!r}: {tail}") from exc
                else:
                    await box.fill(answer)
                    await box.press("Enter")
                # Wait for the bot's answer, not just the echo of what was sent.
                await expect(bot_lines).not_to_have_count(replies_before, timeout=20_000)
                await page.wait_for_timeout(150)
            text = await log.inner_text()
            assert re.search(r"Your reference is ASB-\d{4}-\d{6}", text), text[-800:]
            assert "high priority" in text
        finally:
            await browser.close()
