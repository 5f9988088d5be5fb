"""``intake users``: console accounts (issue 7).

Registered on the ``intake`` command with ``main.add_command(users)``; the parent group passes
the config path as the click context object, as for every other ``intake`` command.

An officer in the config's team gets a password with ``intake users add amara``: the name,
role and areas stay the config's. Anyone else (an administrator, a manager from another
office) is made for the console only with ``--role`` and ``--name``. Passwords are argon2id
hashes; they are typed twice at a terminal, or read from the first line of standard input with
``--password-stdin`` for scripts.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import click
from sqlalchemy import update

from casework.console.auth import ROLES, hash_password, password_problem
from intake.settings import ConfigError, Settings, load_settings
from storage.migrate import upgrade
from storage.models import AuditEvent, ConsoleSession, Officer
from storage.uow import Storage

T = TypeVar("T")
USERNAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def parse_moment(value: str) -> datetime:
    """An ``--at`` option's ISO 8601 moment, which must name its time zone."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint="--at") from None
    if moment.tzinfo is None:
        raise click.BadParameter(
            "give a time zone, e.g. 2026-11-20T16:00:00+00:00", param_hint="--at"
        )
    return moment


def settings_or_exit(config: Path | None) -> Settings:
    """The validated settings, or exit 2 with the one-line reason."""
    try:
        return load_settings(config)
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)


async def with_storage(settings: Settings, work: Callable[[Storage], Awaitable[T]]) -> T:
    """Run ``work`` on the configured database, migrated first (as ``intake`` commands do)."""
    url = settings.database.sqlalchemy_url()
    await asyncio.to_thread(upgrade, url)
    storage = Storage.from_url(
        url, echo=settings.database.echo, pool_size=settings.database.pool_size
    )
    try:
        return await work(storage)
    finally:
        await storage.close()


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.group("users")
def users() -> None:
    """Console accounts: add, list, unlock, disable."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default=None,
              help="Role of a new console-only account (officers in the config keep theirs).")
@click.option("--name", default=None, help="Full name of a new console-only account.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
@click.pass_obj
def users_add(
    config: Path | None, username: str, role: str | None, name: str | None, password_stdin: bool
) -> None:
    """Give USERNAME a console password (a config officer's id, or a new account)."""
    settings = settings_or_exit(config)
    username = username.strip().lower()
    if not USERNAME.fullmatch(username):
        _fail("a username is lower-case letters, digits, - and _ (like the team's officer ids)")
    configured = {o.id: o for o in settings.team.officers}.get(username)
    if configured is not None and role is not None and role != configured.role:
        _fail(f"{username} is a {configured.role} in the config's team; change the role there")
    if configured is None and role is None:
        _fail(f"{username} is not in the config's team: give --role (and --name) for a "
              "console-only account")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password)
    if problem:
        _fail(problem)
    hashed = hash_password(password)
    now = datetime.now(UTC)

    async def work(storage: Storage) -> str:
        async with storage.unit_of_work() as uow:
            officer = await uow.officers.get(username)
            if configured is not None:
                if officer is None:
                    officer = Officer(
                        id=username, name=configured.name, role=configured.role,
                        alert_by=configured.alert_by, email=configured.email,
                        phone=configured.phone, telegram_chat_id=configured.telegram_chat_id,
                        areas=list(configured.areas), active=True,
                    )
                    uow.session.add(officer)
            elif officer is None:
                officer = Officer(
                    id=username, name=name or username, role=role or "officer",
                    alert_by="email", areas=[], active=True, console_only=True,
                )
                uow.session.add(officer)
            elif not officer.console_only:
                _fail(f"{username} was in the team but is no longer in the config; add them "
                      "back there, or choose another username")
            else:
                officer.role = role or officer.role
                officer.name = name or officer.name
            officer.password_hash = hashed
            officer.failed_logins, officer.locked_until = 0, None
            uow.session.add(
                AuditEvent(at=now, actor="cli", action="console.password_set",
                           detail={"officer": username, "role": officer.role})
            )
            return officer.role

    stored_role = asyncio.run(with_storage(settings, work))
    base = settings.service.public_base_url.rstrip("/")
    click.echo(f"{username} ({stored_role}) can sign in at {base}/console/login")


@users.command("list")
@click.pass_obj
def users_list(config: Path | None) -> None:
    """Everyone who can sign in, with their role and when they last did."""
    settings = settings_or_exit(config)

    async def work(storage: Storage) -> list[Officer]:
        async with storage.unit_of_work() as uow:
            return [o for o in await uow.officers.all() if o.password_hash]

    now = datetime.now(UTC)
    for officer in asyncio.run(with_storage(settings, work)):
        state = "locked" if officer.locked_until and officer.locked_until > now else (
            "active" if officer.active or officer.console_only else "left the team"
        )
        last = officer.last_login_at.isoformat(timespec="minutes") if officer.last_login_at else "-"
        click.echo(f"{officer.id:<16} {officer.role:<10} {state:<14} last signed in {last}")


@users.command("unlock")
@click.argument("username")
@click.pass_obj
def users_unlock(config: Path | None, username: str) -> None:
    """End a lockout after too many wrong passwords."""
    settings = settings_or_exit(config)
    _set(settings, username.strip().lower(), "console.unlocked",
         {"failed_logins": 0, "locked_until": None})
    click.echo(f"{username} can try again")


@users.command("disable")
@click.argument("username")
@click.pass_obj
def users_disable(config: Path | None, username: str) -> None:
    """Remove a console password and end every session of that account now."""
    settings = settings_or_exit(config)
    _set(settings, username.strip().lower(), "console.disabled", {"password_hash": None})
    click.echo(f"{username} can no longer sign in")


def _set(settings: Settings, username: str, action: str, values: dict[str, object]) -> None:
    now = datetime.now(UTC)

    async def work(storage: Storage) -> bool:
        async with storage.unit_of_work() as uow:
            result = await uow.session.execute(
                update(Officer).where(Officer.id == username).values(**values)
            )
            if not getattr(result, "rowcount", 0):
                return False
            if action == "console.disabled":
                await uow.session.execute(
                    update(ConsoleSession)
                    .where(ConsoleSession.officer_id == username, ConsoleSession.ended_at.is_(None))
                    .values(ended_at=now)
                )
            uow.session.add(AuditEvent(at=now, actor="cli", action=action,
                                       detail={"officer": username}))
            return True

    if not asyncio.run(with_storage(settings, work)):
        _fail(f"no account {username}")


__all__ = ["users"]
