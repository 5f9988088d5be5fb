"""Start ``intake serve`` as a real process on loopback, on a fresh SQLite database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO
from tests.intake.test_cli import INTAKE


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Running:
    """A running ``intake serve`` and where to reach it."""

    base_url: str
    smtp_port: int
    data_dir: Path
    database_url: str
    env: dict[str, str]
    process: subprocess.Popen[str]

    def mail_sent(self) -> list[Path]:
        """The replies the sandbox mail relay kept, oldest first."""
        folder = self.data_dir / "sandbox-mail"
        return sorted(folder.glob("*.eml")) if folder.exists() else []


def start(tmp_path: Path, **extra_env: str) -> Running:
    port, smtp_port = free_port(), free_port()
    data_dir = tmp_path / "var"
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    env.update(
        INTAKE_DATABASE__URL=database_url,
        INTAKE_HTTP__PORT=str(port),
        INTAKE_SERVICE__PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        INTAKE_SERVICE__DATA_DIR=str(data_dir),
        INTAKE_CHANNELS__EMAIL__LISTEN_PORT=str(smtp_port),
        **extra_env,
    )
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [INTAKE, "--config", str(REPO / "config.yaml"), "serve"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError((tmp_path / "serve.log").read_text())
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return Running(base, smtp_port, data_dir, database_url, env, process)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError(
        "intake serve did not become healthy: " + (tmp_path / "serve.log").read_text()
    )


def stop(running: Running) -> str:
    running.process.send_signal(signal.SIGTERM)
    running.process.wait(timeout=60)
    return ""


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Running]:
    running = start(tmp_path)
    try:
        yield running
    finally:
        stop(running)
        log = (tmp_path / "serve.log").read_text()
        assert "Traceback" not in log, log
