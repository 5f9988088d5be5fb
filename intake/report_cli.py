"""``intake report``: the monthly performance report (R-16) as CSV or JSON.

Registered on the ``intake`` command with ``main.add_command(report)``; the parent group passes
the config path as the click context object.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from casework.reports import MonthlyReport, month_start, monthly_report, parse_month
from intake.users_cli import settings_or_exit, with_storage
from storage.uow import Storage
from triage.calendar import WorkingCalendar


@click.group("report")
def report() -> None:
    """Performance reports against the service standard."""


@report.command("monthly")
@click.option("--month", default=None,
              help="The month, as YYYY-MM (default: last month, in the policy's time zone).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output.")
@click.pass_obj
def report_monthly(config: Path | None, month: str | None, fmt: str, output: Path | None) -> None:
    """ASB and hate cases per 1,000 homes (NM01), first responses within target by priority,
    median time to first contact, open cases by age, satisfaction (TP12) and hot spots."""
    settings = settings_or_exit(config)
    policy = settings.policy
    now = datetime.now(UTC)
    if month is None:
        local = WorkingCalendar.from_policy(policy).local(now).date().replace(day=1)
        first = month_start(local, policy.zone, -1).date()
    else:
        try:
            first = parse_month(month)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--month") from None
    names = {area.code: area.name for area in settings.team.areas}

    async def work(storage: Storage) -> MonthlyReport:
        return await monthly_report(storage, first, policy=policy, now=now, area_names=names)

    result = asyncio.run(with_storage(settings, work))
    text = result.as_csv() if fmt == "csv" else json.dumps(result.as_dict(), indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8", newline="")
        click.echo(f"wrote the {result.month} report to {output}", err=True)


__all__ = ["report"]
