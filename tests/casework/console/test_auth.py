"""Signing in and out of the console: argon2 passwords, sessions that end, lockout after
repeated failures, CSRF and same-origin checks on every state change."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from casework.console.auth import SESSION_COOKIE
from storage.models import AuditEvent, ConsoleSession, Officer
from storage.uow import Storage
from tests.casework.conftest import Clock
from tests.casework.console.conftest import Browser


async def audit(storage: Storage, action: str) -> list[AuditEvent]:
    async with storage.session() as session:
        result = await session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
        return list(result.scalars())


async def test_an_officer_signs_in_sees_the_queue_and_signs_out(
    browser: Browser, accounts: Storage
) -> None:
    response = await browser.sign_in("amara")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/queue"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    page = await browser.get("/console/queue")
    assert page.status_code == 200 and "Your cases" in page.text
    stolen = browser.client.cookies.get(SESSION_COOKIE)

    signed_out = await browser.post("/console/logout")
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/console/login"
    assert (await browser.get("/console/queue")).status_code == 303

    # The old cookie is worthless once signed out: the session row has ended.
    browser.client.cookies.set(SESSION_COOKIE, stolen or "", path="/console")
    again = await browser.get("/console/queue")
    assert again.status_code == 303 and again.headers["location"].startswith("/console/login")
    assert [e.actor for e in await audit(accounts, "console.signed_out")] == ["officer:amara"]


async def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(
    browser: Browser, accounts: Storage
) -> None:
    wrong = await browser.sign_in("amara", "not the password at all")
    unknown = await browser.sign_in("nobody", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert "The username or password is not right" in wrong.text
    assert wrong.text.replace('value="amara"', "") .count("not right") == unknown.text.count(
        "not right"
    )
    refused = await audit(accounts, "console.sign_in_refused")
    assert [e.actor for e in refused] == ["officer:amara", "anonymous"]


async def test_five_wrong_passwords_lock_the_account_for_a_while(
    browser: Browser, accounts: Storage, clock: Clock
) -> None:
    for _ in range(5):
        assert (await browser.sign_in("ben", "wrong wrong wrong")).status_code == 401
    # Locked: even the right password is refused until the lock runs out.
    assert (await browser.sign_in("ben")).status_code == 401
    async with accounts.session() as session:
        ben = await session.get(Officer, "ben")
        assert ben is not None and ben.locked_until is not None
    assert len(await audit(accounts, "console.account_locked")) == 1
    clock.advance(timedelta(minutes=16))
    assert (await browser.sign_in("ben")).status_code == 303


async def test_a_session_ends_after_being_idle(browser: Browser, clock: Clock) -> None:
    await browser.sign_in("chloe")
    clock.advance(timedelta(minutes=20))
    assert (await browser.get("/console/queue")).status_code == 200
    clock.advance(timedelta(minutes=31))
    assert (await browser.get("/console/queue")).status_code == 303


async def test_the_session_keeps_only_a_hash_of_the_token(
    browser: Browser, accounts: Storage
) -> None:
    await browser.sign_in("chloe")
    cookie = browser.client.cookies.get(SESSION_COOKIE) or ""
    async with accounts.session() as session:
        stored = (await session.execute(select(ConsoleSession.id))).scalars().all()
    assert len(stored) == 1 and len(stored[0]) == 64 and stored[0] not in cookie


async def test_state_changes_need_the_form_token_and_our_own_origin(
    browser: Browser, accounts: Storage
) -> None:
    await browser.sign_in("amara")
    no_token = await browser.post("/console/logout", token="")
    wrong = await browser.post("/console/logout", token="0" * 64)
    cross = await browser.post(
        "/console/logout",
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert [r.status_code for r in (no_token, wrong, cross)] == [403, 403, 403]
    assert (await browser.get("/console/queue")).status_code == 200  # still signed in


async def test_the_sign_in_form_needs_its_own_token(browser: Browser) -> None:
    await browser.get("/console/login")
    response = await browser.post(
        "/console/login", {"username": "amara", "password": "x"}, token="forged"
    )
    assert response.status_code == 403 and "expired" in response.text


async def test_after_sign_in_only_console_pages_are_followed(browser: Browser) -> None:
    await browser.get("/console/login?next=https://evil.example/")
    response = await browser.post(
        "/console/login",
        {"username": "amara", "password": "correct horse battery staple",
         "next": "https://evil.example/"},
    )
    assert response.headers["location"] == "/console/queue"


async def test_caretakers_land_on_the_job_board_and_cannot_open_cases(browser: Browser) -> None:
    response = await browser.sign_in("dan")
    assert response.headers["location"] == "/console/jobs"
    assert (await browser.get("/console/queue")).status_code == 403
    assert (await browser.get("/console/reports")).status_code == 403


async def test_a_console_only_administrator_can_sign_in(browser: Browser) -> None:
    assert (await browser.sign_in("root")).status_code == 303
    assert (await browser.get("/console/audit")).status_code == 200
