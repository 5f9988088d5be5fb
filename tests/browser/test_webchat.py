"""The web chat in a real browser: Debian's chromium driven by Playwright.

Skipped with the reason when chromium is not installed, except under CI=true, where it fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Route,
    async_playwright,
    expect,
)

from channels.webchat import NEUTRAL_SITE
from tests.channels.web.live import FakeIntake, make_adapter, serve

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INJECTION = "<img src=x onerror=window.__pwned=1>"
SCREENSHOT = "/tmp/webchat.png"

WATCH_CSP = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(event.violatedDirective + " " + event.blockedURI);
});
"""
"""Runs before the page's own scripts (Playwright injects it outside the page's CSP)."""


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        reason = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; the browser tests are required under CI=true", pytrace=False)
        pytest.skip(reason)
    return path


@dataclass
class Watched:
    """What the browser said while the test ran."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def open_context(browser: Browser, *, javascript: bool = True) -> BrowserContext:
    context = await browser.new_context(
        viewport={"width": 320, "height": 720}, java_script_enabled=javascript, locale="en-GB"
    )
    await context.add_init_script(WATCH_CSP)

    async def neutral_site(route: Route) -> None:
        await route.fulfill(body="<title>BBC Weather</title><h1>Weather</h1>",
                            content_type="text/html")

    await context.route("https://www.bbc.co.uk/**", neutral_site)
    return context


def watch(page: Page) -> Watched:
    watched = Watched()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.console_errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.page_errors.append(str(error)))
    page.on("request", lambda request: watched.requests.append(request.url))
    return watched


async def test_a_report_by_keyboard_with_answers_focus_escaping_and_quick_exit(
    browser: Browser,
) -> None:
    intake = FakeIntake()
    async with serve(make_adapter(intake)) as base_url:
        context = await open_context(browser)
        page = await context.new_page()
        watched = watch(page)
        await page.goto(f"{base_url}/chat")
        log = page.locator("#log")

        # The skip link leads straight to the message box.
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("link", name="Skip to your message")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(page.get_by_label("Your message")).to_be_focused()

        # A report, sent with Enter; the answer appears without a reload.
        await page.keyboard.type("Someone keeps banging on my door at night")
        await page.keyboard.press("Enter")
        await expect(log).to_contain_text("We got: Someone keeps banging on my door at night")
        await expect(log).to_contain_text("Is anyone in immediate danger right now?")
        await expect(page.get_by_label("Your message")).to_have_value("")

        # Focus is on the question with answers; Tab reaches them, Enter presses one.
        await expect(log.locator(".msg").last).to_be_focused()
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("button", name="Yes")).to_be_focused()
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("button", name="No")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(log).to_contain_text("You chose: No")
        assert (intake.messages[-1].choice, intake.messages[-1].text) == ("no", "No")

        # No answers to press now: the buttons are gone and focus is back in the box.
        await expect(page.locator("#choices button")).to_have_count(0)
        await expect(page.get_by_label("Your message")).to_be_focused()

        # Markup typed in comes back as text and never runs.
        await page.keyboard.type(INJECTION)
        await page.get_by_role("button", name="Send").click()
        await expect(log).to_contain_text(f"We got: {INJECTION}")
        await expect(log.locator("img")).to_have_count(0)
        assert await page.evaluate("window.__pwned") is None

        # The page shows the same conversation, escaped, when rendered by the server.
        await page.reload()
        await expect(log).to_contain_text(f"We got: {INJECTION}")
        await expect(log.locator("img")).to_have_count(0)
        assert await page.evaluate("window.__pwned") is None

        # It fits 320 px without scrolling sideways.
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 320

        await page.evaluate("window.scrollTo({top: 0, behavior: 'instant'})")
        await page.screenshot(path=SCREENSHOT, full_page=True)

        assert await page.evaluate("window.__violations") == []
        assert [e for e in watched.console_errors if "Content Security Policy" in e] == []
        assert watched.page_errors == []
        assert not any(url.endswith("/chat/x") for url in watched.requests)

        # Leave quickly, by keyboard: the exit word goes, the page is replaced.
        await page.get_by_role("button", name="Leave this site quickly").focus()
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{NEUTRAL_SITE}**")
        await intake.wait_for_text("exit")
        await page.go_back()
        assert not page.url.startswith(f"{base_url}/chat")
        await context.close()


async def test_without_javascript_the_form_posts_and_the_page_shows_the_answer(
    browser: Browser,
) -> None:
    """A browser's own form post says ``Origin: null`` under no-referrer; it must still pass."""
    intake = FakeIntake()
    async with serve(make_adapter(intake)) as base_url:
        context = await open_context(browser, javascript=False)
        page = await context.new_page()
        await page.goto(f"{base_url}/chat")

        await expect(page.get_by_text("Press Enter to send")).to_be_hidden()
        await page.get_by_label("Your message").fill(f"They wrote {INJECTION} on my car")
        await page.get_by_role("button", name="Send").click()
        await page.wait_for_url(f"{base_url}/chat#latest")
        await expect(page.locator("#log")).to_contain_text(f"We got: They wrote {INJECTION}")
        await page.get_by_role("button", name="Yes").click()
        await expect(page.locator("#log")).to_contain_text("You chose: Yes")

        assert [m.text for m in intake.messages] == [f"They wrote {INJECTION} on my car", "Yes"]
        assert await page.locator("#log img").count() == 0
        await context.close()
