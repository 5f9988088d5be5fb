"""The ``intake`` command: configuration checks, database migrations and the service."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from intake import __version__
from intake.settings import ENV_CONFIG_PATH, ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from storage.uow import Storage

T = TypeVar("T")
log = logging.getLogger("intake")


def _load(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="intake")
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path),
    envvar=ENV_CONFIG_PATH,
    default=None,
    help="Config file (default: $INTAKE_CONFIG or ./config.yaml).",
)
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """Reports of anti-social behaviour and hate crime for social landlords."""
    ctx.obj = config


@main.group("config")
def config_group() -> None:
    """Check configuration files."""


@config_group.command("check")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.pass_obj
def config_check(config: Path | None, file: Path | None) -> None:
    """Validate FILE (or the configured file) and the INTAKE_* environment, start nothing."""
    path = file or config
    settings = _load(path)
    policy = settings.policy
    targets = ", ".join(f"{p} {t.first_contact}" for p, t in policy.priorities.items())
    click.echo(
        f"{path or 'config.yaml'}: OK: {policy.name} ({policy.nation.value}, {policy.timezone}); "
        f"first contact {targets}"
    )


@main.group("db")
def db_group() -> None:
    """Create and migrate the database."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@click.pass_obj
def db_upgrade(config: Path | None, revision: str) -> None:
    """Bring the database schema up to REVISION (default: the latest)."""
    from storage.migrate import current_revision_blocking, upgrade

    settings = _load(config)
    url = settings.database.sqlalchemy_url()
    upgrade(url, revision)
    click.echo(f"database at revision {current_revision_blocking(url)}")


@db_group.command("downgrade")
@click.argument("revision")
@click.pass_obj
def db_downgrade(config: Path | None, revision: str) -> None:
    """Take the database schema down to REVISION ('base' removes every table)."""
    from storage.migrate import current_revision_blocking, downgrade

    settings = _load(config)
    url = settings.database.sqlalchemy_url()
    downgrade(url, revision)
    click.echo(f"database at revision {current_revision_blocking(url) or 'base (empty)'}")


@db_group.command("current")
@click.pass_obj
def db_current(config: Path | None) -> None:
    """Show the database's schema revision."""
    from storage.migrate import current_revision_blocking, head_revision

    settings = _load(config)
    current = current_revision_blocking(settings.database.sqlalchemy_url())
    click.echo(f"database at {current or 'base (empty)'}; latest is {head_revision()}")


@main.command("serve")
@click.option("--host", default=None, help="Override http.host.")
@click.option("--port", default=None, type=int, help="Override http.port.")
@click.pass_obj
def serve(config: Path | None, host: str | None, port: int | None) -> None:
    """Run the service: migrate the database, then serve HTTP until SIGTERM or Ctrl-C."""
    settings = _load(config)
    logging.basicConfig(
        level=settings.service.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with asyncio.Runner(loop_factory=_event_loop_factory()) as runner:
        runner.run(_serve(settings, host, port))


def _event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (``uvicorn[standard]`` brings it), as uvicorn
    itself chooses; else asyncio's own."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; a platform may lack it
        return None
    return uvloop.new_event_loop


async def _serve(settings: Settings, host: str | None, port: int | None) -> None:
    from intake.runner import serve as run

    await run(settings, host=host, port=port)


@main.command("chat")
@click.option(
    "--as",
    "sender",
    default=None,
    help="Who is typing (a name or number); default: your login name.",
)
@click.option(
    "--at",
    "at",
    default=None,
    help="Pretend the time is this ISO 8601 moment (for demonstrations and tests).",
)
@click.pass_obj
def chat(config: Path | None, sender: str | None, at: str | None) -> None:
    """Talk to the bot in the terminal, through the real service and database.

    Interactive on a terminal. Otherwise each input line is one message, and after the replies
    to each line a line holding only --- is printed, so a script can converse turn by turn.
    """
    settings = _load(config)
    logging.basicConfig(level=logging.WARNING)
    from intake.users_cli import parse_moment

    fixed = parse_moment(at) if at else None
    who = sender or os.environ.get("USER") or "terminal"
    asyncio.run(_chat(settings, who, fixed))


async def _chat(settings: Settings, sender: str, fixed: datetime | None) -> None:
    from channels import terminal
    from intake.bootstrap import build_service, build_storage, migrate, sync_team

    await migrate(settings)
    storage = build_storage(settings)
    interactive = sys.stdin.isatty()

    def now() -> datetime:
        return fixed or datetime.now(UTC)

    try:
        await sync_team(storage, settings.team)
        service = build_service(settings, storage, clock=now)
        if interactive:
            click.echo("Type your report. HELP for help, EXIT to leave, Ctrl-D to quit.")
        while True:
            line = await asyncio.to_thread(_read_line, interactive)
            if line is None:
                break
            handled = await service.handle(terminal.parse(line, sender, now()), inline=True)
            click.echo(terminal.render(handled.replies))
            if not interactive:
                click.echo(terminal.TURN_END)
            sys.stdout.flush()
    finally:
        await storage.close()


def _read_line(interactive: bool) -> str | None:
    try:
        line = input("> ") if interactive else sys.stdin.readline()
    except EOFError:
        return None
    if not interactive and line == "":
        return None
    return line.rstrip("\n")


@main.command("triage")
@click.pass_obj
def triage_command(config: Path | None) -> None:
    """Triage reports: JSON lines {"text": ..., "channel": ...} in, one JSON line out each.

    Each output line holds category, categories, hate_crime, emergency, not_asb, priority and
    reasons, from the text alone under the configured policy. A malformed line gets an error
    object on its own line and the run goes on; the exit status is 1 if any line failed.
    """
    from triage import classify, decide_priority

    settings = _load(config)
    failed = False
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ValueError('expected an object with a "text" string')
            channel = item.get("channel")
            if channel is not None and not isinstance(channel, str):
                raise ValueError('"channel" must be a string')
        except ValueError as exc:
            failed = True
            click.echo(json.dumps({"error": str(exc), "line": number}))
            continue
        classification = classify(item["text"], channel)
        decision = decide_priority(classification, settings.policy)
        click.echo(
            json.dumps(
                {
                    "category": decision.category.value,
                    "categories": [c.value for c in classification.categories],
                    "hate_crime": decision.hate,
                    "emergency": decision.call_999,
                    "not_asb": decision.self_help_advice,
                    "priority": decision.priority.value,
                    "reasons": list(dict.fromkeys([*classification.reasons, *decision.reasons])),
                }
            )
        )
    sys.exit(1 if failed else 0)


@main.group("cases")
def cases_group() -> None:
    """Look at cases."""


@cases_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@click.option("--status", default=None, help="open, incomplete or closed.")
@click.option("--limit", default=100, show_default=True)
@click.pass_obj
def cases_list(config: Path | None, as_json: bool, status: str | None, limit: int) -> None:
    """Cases, soonest deadline first."""
    from casework.casefile import case_summaries

    settings = _load(config)
    rows = asyncio.run(
        _with_storage(settings, lambda s: case_summaries(s, status=status, limit=limit))
    )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['reference']}  {row['priority']}  {row['status']:<10} "
            f"{row['category']:<24} due {row['deadline'] or '-'}"
        )


@cases_group.command("show")
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True, help="JSON.")
@click.pass_obj
def cases_show(config: Path | None, reference: str, as_json: bool) -> None:
    """One case in full: triage, risk, incidents, advocate and transcript."""
    from casework.casefile import case_detail

    settings = _load(config)
    detail = asyncio.run(_with_storage(settings, lambda s: case_detail(s, reference)))
    if detail is None:
        click.echo(f"no case {reference}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(detail, indent=2))
        return
    for key, value in detail.items():
        if key != "transcript":
            click.echo(f"{key}: {value}")
    for line in detail["transcript"]:
        click.echo(f"  [{line['at']}] {line['from']}: {line['text']}")


async def _with_storage(settings: Settings, work: Callable[[Storage], Awaitable[T]]) -> T:
    from intake.bootstrap import build_storage, migrate

    await migrate(settings)
    storage = build_storage(settings)
    try:
        return await work(storage)
    finally:
        await storage.close()


def _register_casework_commands() -> None:
    from intake.jobs_cli import jobs
    from intake.report_cli import report
    from intake.users_cli import users

    main.add_command(jobs)
    main.add_command(users)
    main.add_command(report)


_register_casework_commands()


if __name__ == "__main__":  # pragma: no cover
    main()
