"""A wrong config stops start-up with one line naming the file, key, value and what is allowed;
every value can be overridden from the environment; secrets come only from the environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from intake.settings import ConfigError, load_settings
from tests.conftest import REPO

GOOD = (REPO / "config.yaml").read_text(encoding="utf-8")


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_for(path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ or {})
    message = str(caught.value)
    assert "\n" not in message, "the error must be one line"
    return message


def test_the_shipped_config_is_valid() -> None:
    settings = load_settings(REPO / "config.yaml", {})
    assert settings.database.url.startswith("sqlite+aiosqlite")
    assert str(settings.policy.priorities["P1"].first_contact) == "1 working day"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "  closure:",
            "  closur:",
            r"bad\.yaml: policy\.closur: unknown key; allowed here: .*closure",
        ),
        (
            "      first_contact: 1 working day",
            "      first_contact: -1 working day",
            r"bad\.yaml: policy\.priorities\.P1\.first_contact = '-1 working day': must be more than zero",
        ),
        (
            "  nation: england_and_wales",
            "  nation: wales",
            r"bad\.yaml: policy\.nation = 'wales': expected 'england_and_wales', 'scotland' or 'northern_ireland'",
        ),
        (
            "    medium_at: 4",
            "    medium_at: four",
            r"policy\.risk\.medium_at = 'four': expected a valid integer",
        ),
        (
            "    high_at: 8",
            "    high_at: 2",
            r"policy\.risk: high_at \(2\) must be greater than medium_at \(4\)",
        ),
        (
            '    opens: "09:00"',
            "    opens: 9:00",
            r"policy\.business_hours\.opens = 540: write clock times in quotes",
        ),
        (
            "  timezone: Europe/London",
            "  timezone: Europe/Londn",
            r"unknown time zone 'Europe/Londn'",
        ),
        (
            "    hate_incident: {priority: P1}",
            "    hate_incident: {priority: P2}",
            r"hate_incident\.priority must be P1",
        ),
        (
            "      first_contact: 5 working days",
            "      first_contakt: 5 working days",
            r"policy\.priorities\.P2\.first_contakt: unknown key; allowed here: label, first_contact",
        ),
        (
            "    delay: 7 days",
            "    delay: soon",
            r"policy\.survey\.delay = 'soon': expected a positive duration",
        ),
        ("  on_call: amara", "  on_call: zoe", r"team: on_call 'zoe' is not one of the officers"),
        (
            "  url: sqlite+aiosqlite:///var/intake.db",
            "  url: mysql://x/y",
            r"database: driver 'mysql' is not supported",
        ),
    ],
)
def test_bad_values_are_named(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD, old
    message = error_for(write(tmp_path, GOOD.replace(old, new, 1), "bad.yaml"))
    assert re.search(expected, message), message


def test_missing_file_and_broken_yaml(tmp_path: Path) -> None:
    assert "no such config file" in error_for(tmp_path / "absent.yaml")
    message = error_for(write(tmp_path, "policy: [unclosed\n"))
    assert re.search(r"config\.yaml: line \d+: not valid YAML", message)


def test_environment_overrides_any_value(tmp_path: Path) -> None:
    settings = load_settings(
        write(tmp_path, GOOD),
        {
            "INTAKE_DATABASE__URL": "postgresql+asyncpg://intake@db.example.org/intake",
            "INTAKE_POLICY__PERFORMANCE__HOMES": "25000",
            "INTAKE_POLICY__PRIORITIES__P1__FIRST_CONTACT": "24 hours excluding weekends and bank holidays",
            "INTAKE_POLICY__CLOSURE__NO_NEW_REPORTS_AFTER": "60 days",
            "INTAKE_HTTP__PORT": "9000",
        },
    )
    assert settings.database.url == "postgresql+asyncpg://intake@db.example.org/intake"
    assert settings.policy.performance.homes == 25000
    assert str(settings.policy.closure.no_new_reports_after) == "60 days"
    assert settings.policy.priorities["P1"].first_contact.unit == "hours_excluding_non_working_days"
    assert settings.http.port == 9000


def test_a_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    message = error_for(write(tmp_path, GOOD), {"INTAKE_POLICY__PERFORMANCE__HOMES": "-5"})
    assert message.startswith("environment variable INTAKE_POLICY__PERFORMANCE__HOMES: ")
    assert "greater than 0" in message


def test_a_misspelt_environment_variable_stops_start_up(tmp_path: Path) -> None:
    message = error_for(write(tmp_path, GOOD), {"INTAKE_DATABSE__URL": "sqlite+aiosqlite:///x.db"})
    assert "INTAKE_DATABSE__URL: not a setting" in message


def test_secrets_come_only_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    text = GOOD.replace(
        "  url: sqlite+aiosqlite:///var/intake.db",
        "  url: sqlite+aiosqlite:///var/intake.db\n  password: hunter2",
    )
    message = error_for(write(tmp_path, text, "secret.yaml"))
    assert message.endswith(
        "secret.yaml: database.password: secrets are read only from the environment; "
        "remove it from the file and set INTAKE_DATABASE__PASSWORD"
    )
    settings = load_settings(
        path,
        {
            "INTAKE_DATABASE__PASSWORD": "hunter2",
            "INTAKE_DATABASE__URL": "postgresql+asyncpg://intake@db/intake",
        },
    )
    assert "hunter2" in settings.database.sqlalchemy_url()
    assert "hunter2" not in repr(settings)


def test_a_password_inside_the_url_is_refused(tmp_path: Path) -> None:
    message = error_for(
        write(tmp_path, GOOD), {"INTAKE_DATABASE__URL": "postgresql+asyncpg://intake:pw@db/intake"}
    )
    assert "must not carry a password" in message


def test_the_metrics_token_comes_only_from_the_environment_and_is_never_repeated(
    tmp_path: Path,
) -> None:
    text = GOOD.replace(
        "  log_level: INFO", "  log_level: INFO\n  metrics_token: abcdefghijklmnopqrstuvwxyz"
    )
    message = error_for(write(tmp_path, text, "metrics.yaml"))
    assert message.endswith(
        "metrics.yaml: service.metrics_token: secrets are read only from the environment; "
        "remove it from the file and set INTAKE_SERVICE__METRICS_TOKEN"
    )
    short = error_for(write(tmp_path, GOOD), {"INTAKE_SERVICE__METRICS_TOKEN": "tiny-token"})
    assert short == (
        "environment variable INTAKE_SERVICE__METRICS_TOKEN: service.metrics_token: "
        "a metrics token needs at least 24 characters"
    )
    token = "m" * 32
    settings = load_settings(write(tmp_path, GOOD), {"INTAKE_SERVICE__METRICS_TOKEN": token})
    assert settings.service.metrics_token is not None
    assert settings.service.metrics_token.get_secret_value() == token
    assert token not in repr(settings)
    assert load_settings(write(tmp_path, GOOD), {}).service.metrics_token is None


def test_console_sign_in_limits_and_trusted_proxies_are_configurable(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    default = load_settings(path, {})
    assert (default.console.lockout_after, default.console.failed_sign_ins_per_ip) == (5, 20)
    assert default.console.failed_sign_ins_window.as_timedelta().total_seconds() == 15 * 60
    assert default.http.trusted_proxies == ()
    changed = load_settings(
        path,
        {
            "INTAKE_CONSOLE__FAILED_SIGN_INS_PER_IP": "8",
            "INTAKE_CONSOLE__FAILED_SIGN_INS_WINDOW": "1 hour",
            "INTAKE_HTTP__TRUSTED_PROXIES": '["10.0.0.5"]',
        },
    )
    assert changed.console.failed_sign_ins_per_ip == 8
    assert changed.console.failed_sign_ins_window.as_timedelta().total_seconds() == 3600
    assert changed.http.trusted_proxies == ("10.0.0.5",)
    assert "not a fixed length of time" in error_for(
        path, {"INTAKE_CONSOLE__FAILED_SIGN_INS_WINDOW": "2 working days"}
    )
    assert "console.failed_sign_ins_per_ip = '0': expected greater than or equal to 1" in error_for(
        path, {"INTAKE_CONSOLE__FAILED_SIGN_INS_PER_IP": "0"}
    )
