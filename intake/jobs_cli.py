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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from casework.context import context_from_settings
from casework.scheduler import OWNED_KINDS, drain, schedule_duties
from casework.texts import when
from intake.bootstrap import sync_team
from intake.users_cli import parse_moment, settings_or_exit, with_storage
from storage.repositories import ActionRepository
from storage.uow import Storage


def _at(value: str | None) -> datetime:
    return datetime.now(UTC) if value is None else parse_moment(value)


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
    settings = settings_or_exit(config)
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

    rows = asyncio.run(with_storage(settings, work))
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
    settings = settings_or_exit(config)
    now = _at(at)
    context = context_from_settings(settings)
    worker = f"cli:{socket.gethostname()}:{os.getpid()}"

    async def work(storage: Storage) -> dict[str, Any]:
        await sync_team(storage, settings.team)
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

    result = asyncio.run(with_storage(settings, work))
    if as_json:
        click.echo(json.dumps(result))
    else:
        done = ", ".join(f"{kind} {n}" for kind, n in result["done"].items()) or "nothing"
        click.echo(
            f"ran {result['ran']} action(s): {done}; {result['deferred']} waiting for a later "
            f"time; {result['failed']} failed; {result['messages_queued']} message(s) queued"
        )
    sys.exit(1 if result["failed"] else 0)


__all__ = ["jobs"]
