"""The ``intake`` command as a landlord's IT person uses it, run as a real process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

INTAKE = shutil.which("intake", path=str(Path(sys.executable).parent)) or "intake"


def run(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    environment.update(env or {})
    return subprocess.run(
        [INTAKE, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0 and result.stdout.startswith("intake, version ")


@pytest.mark.parametrize("path", sorted((REPO / "policies").glob("*.yaml")), ids=lambda p: p.name)
def test_config_check_passes_every_policy(path: Path) -> None:
    result = run("config", "check", str(path))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_config_check_fails_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((REPO / "config.yaml").read_text().replace("  survey:", "  survy:"))
    result = run("config", "check", str(bad))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "policy.survy: unknown key" in lines[0]
    assert result.stdout == ""


def test_db_upgrade_creates_the_sqlite_database_then_downgrade_empties_it(tmp_path: Path) -> None:
    env = {"INTAKE_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'var' / 'intake.db'}"}
    upgraded = run("--config", str(REPO / "config.yaml"), "db", "upgrade", cwd=tmp_path, env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "var" / "intake.db").exists()
    assert "database at revision" in upgraded.stdout
    down = run(
        "--config", str(REPO / "config.yaml"), "db", "downgrade", "base", cwd=tmp_path, env=env
    )
    assert down.returncode == 0 and "base (empty)" in down.stdout


def test_serve_refuses_a_bad_config_before_starting(tmp_path: Path) -> None:
    result = run("serve", env={"INTAKE_POLICY__NATION": "wales"})
    assert result.returncode == 2
    assert "INTAKE_POLICY__NATION" in result.stderr and "england_and_wales" in result.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_migrates_answers_healthz_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    import signal
    import time

    import httpx

    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    environment.update(
        INTAKE_DATABASE__URL=f"sqlite+aiosqlite:///{tmp_path / 'var' / 'intake.db'}",
        INTAKE_HTTP__PORT=str(port),
        INTAKE_SERVICE__PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        INTAKE_SERVICE__DATA_DIR=str(tmp_path / "var"),
        INTAKE_CHANNELS__EMAIL__LISTEN_PORT="0",
    )
    process = subprocess.Popen(
        [INTAKE, "--config", str(REPO / "config.yaml"), "serve"],
        cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        answer = None
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                if answer.status_code == 200:
                    break  # 503 while the channels are still starting
            except httpx.TransportError:
                if process.poll() is not None:
                    break
            time.sleep(0.2)
        assert answer is not None, process.stdout.read() if process.stdout else ""
        assert answer.status_code == 200, answer.text
        assert answer.json()["checks"] == {
            "database": "ok", "sms": "sandbox", "whatsapp": "sandbox", "email": "ok",
            "telegram": "sandbox", "web": "ok",
        }
        assert (tmp_path / "var" / "intake.db").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    # uvicorn finishes in-flight requests, then re-raises SIGTERM so the exit says why.
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "stopped" in output
    assert "team synchronised: 4 officers" in output
