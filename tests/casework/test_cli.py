"""``intake jobs list`` and ``intake jobs run-due`` against a real config and database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from intake.bootstrap import sync_team
from intake.jobs_cli import jobs
from intake.settings import load_settings
from storage.migrate import upgrade
from storage.uow import Storage
from tests.casework.conftest import FRIDAY_BEFORE_BANK_HOLIDAY, TEAM, open_case
from tests.conftest import REPO


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Stands in for ``intake``, which passes the config path as the context object."""


main.add_command(jobs)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    data = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    data["database"]["url"] = f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}"
    data["service"]["data_dir"] = str(tmp_path / "var")
    data["team"] = TEAM
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    settings = load_settings(path, {})
    url = settings.database.sqlalchemy_url()
    upgrade(url)

    async def seed() -> None:
        from casework.context import context_from_settings

        storage = Storage.from_url(url)
        try:
            await sync_team(storage, settings.team)
            await open_case(
                storage, context_from_settings(settings), FRIDAY_BEFORE_BANK_HOLIDAY, alert="hate"
            )
        finally:
            await storage.close()

    asyncio.run(seed())
    return path


def invoke(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["jobs", *args], obj=config, catch_exceptions=False)
    return result.exit_code, result.output


def test_jobs_list_shows_pending_actions_and_marks_the_overdue(config: Path) -> None:
    code, output = invoke(config, "list", "--at", "2026-08-28T16:05:00+01:00")
    assert code == 0
    lines = output.splitlines()
    assert lines[0].split()[1:3] == ["alert_officer", "ASB-2026-000001"]
    assert lines[0].endswith("pending  OVERDUE")
    assert "due Fri 28 Aug 16:00" in lines[0]
    assert [line.split()[1] for line in lines[1:]] == [
        "first_contact_reminder",
        "first_contact_deadline",
        "update_reminder",
        "closure_check",
    ]
    code, output = invoke(
        config, "list", "--json", "--overdue", "--at", "2026-08-28T16:05:00+01:00"
    )
    [row] = json.loads(output)
    assert (row["kind"], row["case"], row["overdue"], row["owner"]) == (
        "alert_officer",
        "ASB-2026-000001",
        True,
        "casework",
    )


def test_jobs_run_due_runs_what_is_due_once(config: Path) -> None:
    code, output = invoke(config, "run-due", "--json", "--at", "2026-08-28T16:05:00+01:00")
    assert code == 0
    assert json.loads(output) == {  # the alert, and the day's duties caught up
        "ran": 4,
        "done": {"alert_officer": 1, "monthly_figures": 1, "officer_digest": 1, "review_digest": 1},
        "deferred": 0,
        "failed": 0,
        "messages_queued": 3,
        "duties_added": 3,
    }
    code, output = invoke(config, "run-due", "--at", "2026-08-28T16:05:00+01:00")
    assert (code, output.strip()) == (
        0,
        "ran 0 action(s): nothing; 0 waiting for a later time; 0 failed; 0 message(s) queued",
    )
    code, output = invoke(config, "run-due", "--json", "--at", "2026-09-01T08:30:00+01:00")
    result = json.loads(output)
    assert result["done"] == {  # the second route's next level counts from now: 08:45
        "alert_second_route": 1,
        "monthly_figures": 1,
        "officer_digest": 1,
        "review_digest": 1,
    }
    assert result["duties_added"] == 3


def test_a_bad_time_is_refused(config: Path) -> None:
    result = CliRunner().invoke(main, ["jobs", "run-due", "--at", "tomorrow"], obj=config)
    assert result.exit_code == 2 and "is not an ISO 8601 time" in result.output
