"""``intake jobs``: see the scheduled follow-ups and run what is due.

Registered on the ``intake`` command with ``main.add_command(jobs)``; the parent group passes
the config path as the click context object, as for every other ``intake`` command.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from casework.context import context_from_settings
from casework.scheduler import OWNED_KINDS, drain, schedule_duties
from casework.texts import when
from intake.settings import ConfigError, Settings, TeamSettings, load_settings
from storage.migrate import upgrade
from storage.models import Officer
from storage.repositories import ActionRepository
from storage.uow import Storage

T = TypeVar("T")


def _load(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)


def _at(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint="--at") from None
    if moment.tzinfo is None:
        raise click.BadParameter(
            "give a time zone, e.g. 2026-08-28T16:00:00+01:00", param_hint="--at"
        )
    return moment


AT_HELP = "Pretend the time is this ISO 8601 moment (for demonstrations and tests)."


@click.group("jobs")
def jobs() -> None:
    """Scheduled follow-ups: alerts, reminders, deadlines, jobs, closure checks, surveys."""


@jobs.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@click.option("--overdue", is_flag=True, help="Only actions already due.")
@click.option(
    "--all", "every_status", is_flag=True, help="Include done, cancelled and failed actions."
)
@click.option("--kind", "kinds", multiple=True, help="Only this kind (repeatable).")
@click.option("--limit", default=100, show_default=True)
@click.option("--at", "at", default=None, help=AT_HELP)
@click.pass_obj
def jobs_list(
    config: Path | None,
    as_json: bool,
    overdue: bool,
    every_status: bool,
    kinds: tuple[str, ...],
    limit: int,
    at: str | None,
) -> None:
    """Pending actions, soonest first; overdue ones are marked."""
    settings = _load(config)
    now = _at(at)
    statuses = (
        ("pending", "running", "done", "cancelled", "failed") if every_status else ("pending",)
    )

    async def work(storage: Storage) -> list[dict[str, Any]]:
        async with storage.session() as session:
            rows = await ActionRepository(session).listing(
                statuses=statuses,
                kinds=kinds or None,
                due_before=now if overdue else None,
                limit=limit,
            )
        return [
            {
                "id": action.id,
                "kind": action.kind,
                "case": reference,
                "due_at": action.due_at.isoformat(),
                "status": action.status,
                "overdue": action.status == "pending" and action.due_at <= now,
                "attempts": action.attempts,
                "owner": "casework" if action.kind in OWNED_KINDS else "intake",
                "last_error": action.last_error,
            }
            for action, reference in rows
        ]

    rows = asyncio.run(_with_storage(settings, work))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    context = context_from_settings(settings)
    if not rows:
        click.echo("nothing scheduled" if not overdue else "nothing overdue")
    for row in rows:
        due = when(context.calendar, datetime.fromisoformat(row["due_at"]))
        flag = "  OVERDUE" if row["overdue"] else ""
        click.echo(
            f"{row['id']:>7}  {row['kind']:<24} {row['case'] or '-':<16} due {due:<17} "
            f"{row['status']}{flag}"
        )


@jobs.command("run-due")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.option("--batch", default=200, show_default=True, help="Actions per transaction.")
@click.option("--at", "at", default=None, help=AT_HELP)
@click.pass_obj
def jobs_run_due(config: Path | None, as_json: bool, batch: int, at: str | None) -> None:
    """Run every casework action due now (once, even with `intake serve` running alongside)
    and today's periodic duties; the messages are sent by `intake serve`'s outbox."""
    settings = _load(config)
    now = _at(at)
    context = context_from_settings(settings)
    worker = f"cli:{socket.gethostname()}:{os.getpid()}"

    async def work(storage: Storage) -> dict[str, Any]:
        await _sync_team(storage, settings.team)
        duties = await schedule_duties(storage, context, now)
        report = await drain(storage, context, lambda: now, worker, batch=batch)
        return {
            "ran": report.ran,
            "done": dict(sorted(report.done.items())),
            "deferred": report.deferred,
            "failed": report.failed,
            "messages_queued": report.messages,
            "duties_added": duties,
        }

    result = asyncio.run(_with_storage(settings, work))
    if as_json:
        click.echo(json.dumps(result))
    else:
        done = ", ".join(f"{kind} {n}" for kind, n in result["done"].items()) or "nothing"
        click.echo(
            f"ran {result['ran']} action(s): {done}; {result['deferred']} waiting for a later "
            f"time; {result['failed']} failed; {result['messages_queued']} message(s) queued"
        )
    sys.exit(1 if result["failed"] else 0)


async def _with_storage(settings: Settings, work: Callable[[Storage], Awaitable[T]]) -> T:
    url = settings.database.sqlalchemy_url()
    await asyncio.to_thread(upgrade, url)
    storage = Storage.from_url(
        url, echo=settings.database.echo, pool_size=settings.database.pool_size
    )
    try:
        return await work(storage)
    finally:
        await storage.close()


async def _sync_team(storage: Storage, team: TeamSettings) -> None:
    """Mirror the config's officers into the database, as ``intake serve`` does at start-up,
    so a run from the command line alerts today's team."""
    configured = {officer.id for officer in team.officers}
    async with storage.unit_of_work() as uow:
        for officer in team.officers:
            row = await uow.officers.get(officer.id) or Officer(id=officer.id)
            row.name, row.role, row.alert_by = officer.name, officer.role, officer.alert_by
            row.email, row.phone = officer.email, officer.phone
            row.telegram_chat_id, row.areas, row.active = (
                officer.telegram_chat_id,
                list(officer.areas),
                True,
            )
            await uow.officers.upsert(row)
        for row in await uow.officers.all():
            if row.id not in configured and row.active and not row.console_only:
                row.active = False


__all__ = ["jobs"]
