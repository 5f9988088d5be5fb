"""``intake users`` and ``intake report`` against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner

from intake.report_cli import report
from intake.users_cli import users
from storage.models import Officer
from storage.uow import Storage
from tests.conftest import REPO

CONFIG = REPO / "config.yaml"


def invoke(group: object, args: list[str], database_url: str, tmp_path: Path,
           stdin: str | None = None) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(
        group,  # type: ignore[arg-type]
        args,
        obj=CONFIG,
        input=stdin,
        env={"INTAKE_DATABASE__URL": database_url,
             "INTAKE_SERVICE__DATA_DIR": str(tmp_path / "var")},
        catch_exceptions=False,
    )
    return result.exit_code, result.stdout, result.stderr


def officer(database_url: str, officer_id: str) -> Officer | None:
    async def read() -> Officer | None:
        storage = Storage.from_url(database_url)
        try:
            async with storage.session() as session:
                return await session.get(Officer, officer_id)
        finally:
            await storage.close()

    return asyncio.run(read())


def test_a_config_officer_gets_a_password_from_stdin(database_url: str, tmp_path: Path) -> None:
    code, out, _ = invoke(users, ["add", "amara", "--password-stdin"], database_url, tmp_path,
                          "a long enough password\n")
    assert code == 0 and "amara (officer) can sign in" in out
    stored = officer(database_url, "amara")
    assert stored is not None and stored.password_hash is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert "a long enough password" not in stored.password_hash
    assert stored.name == "Amara Okafor" and not stored.console_only


def test_a_console_only_admin_is_made_with_a_prompted_password(
    database_url: str, tmp_path: Path
) -> None:
    code, out, _ = invoke(
        users, ["add", "root", "--role", "admin", "--name", "Rita Root"], database_url, tmp_path,
        "another long password\nanother long password\n",
    )
    assert code == 0, out
    stored = officer(database_url, "root")
    assert stored is not None and stored.console_only and stored.role == "admin"
    code, out, _ = invoke(users, ["list"], database_url, tmp_path)
    assert "root" in out and "admin" in out


def test_refusals(database_url: str, tmp_path: Path) -> None:
    cases = [
        (["add", "amara", "--role", "admin", "--password-stdin"], "a long enough password\n",
         "is a officer in the config's team"),
        (["add", "stranger", "--password-stdin"], "a long enough password\n", "give --role"),
        (["add", "amara", "--password-stdin"], "short\n", "at least 12 characters"),
        (["add", "Bad Name!", "--role", "officer", "--password-stdin"], "x" * 20 + "\n",
         "lower-case"),
        (["unlock", "nobody"], None, "no account nobody"),
    ]
    for args, stdin, problem in cases:
        code, _, err = invoke(users, args, database_url, tmp_path, stdin)
        assert code == 2 and problem in err, (args, err)


def test_unlock_and_disable(database_url: str, tmp_path: Path) -> None:
    invoke(users, ["add", "ben", "--password-stdin"], database_url, tmp_path,
           "a long enough password\n")
    assert invoke(users, ["unlock", "ben"], database_url, tmp_path)[0] == 0
    assert invoke(users, ["disable", "ben"], database_url, tmp_path)[0] == 0
    stored = officer(database_url, "ben")
    assert stored is not None and stored.password_hash is None


def test_the_monthly_report_as_csv_and_json(database_url: str, tmp_path: Path) -> None:
    code, out, _ = invoke(report, ["monthly", "--month", "2026-08", "--format", "csv"],
                          database_url, tmp_path)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0] == {"month": "2026-08", "measure": "homes", "group": "", "value": "12000"}
    code, out, _ = invoke(report, ["monthly", "--month", "2026-08", "--format", "json"],
                          database_url, tmp_path)
    data = json.loads(out)
    assert code == 0 and data["month"] == "2026-08" and data["asb_cases"] == 0
    target = tmp_path / "out.csv"
    code, _, err = invoke(report, ["monthly", "--month", "2026-08", "-o", str(target)],
                          database_url, tmp_path)
    assert code == 0 and target.read_text().startswith("month,measure")
    code, _, err = invoke(report, ["monthly", "--month", "August"], database_url, tmp_path)
    assert code == 2 and "YYYY-MM" in err


def test_nobody_can_sign_in_on_a_new_database(database_url: str, tmp_path: Path) -> None:
    code, out, _ = invoke(users, ["list"], database_url, tmp_path)
    assert code == 0 and out == ""
