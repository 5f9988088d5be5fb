"""The stand-in mail relay for sandbox mode: replies are kept as .eml files, not sent.

With no relay configured, ``intake serve`` starts this SMTP server on loopback and the email
channel relays to it through the real aiosmtplib code path, so what would have been sent can
be read in ``<data_dir>/sandbox-mail/`` and is logged (without addresses or bodies).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

log = logging.getLogger(__name__)


class _Keep:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data: bytes = envelope.content
        self.count += 1
        name = f"{self.count:06d}-{hashlib.sha256(data).hexdigest()[:12]}.eml"
        await asyncio.to_thread(self._write, name, data)
        domains = sorted({str(r).rsplit("@", 1)[-1] for r in envelope.rcpt_tos})
        log.info("sandbox mail to %s (%d bytes) kept as %s", ", ".join(domains), len(data), name)
        return "250 Kept in the sandbox mailbox"

    def _write(self, name: str, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / name).write_bytes(data)


class SandboxMailbox:
    """An SMTP server on loopback that keeps every message it is given."""

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.folder = folder
        self.host = host
        self._port = port
        self._handler = _Keep(folder)
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The port it listens on (after start)."""
        assert self._server is not None, "not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Listen on the running loop."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self._handler, hostname="sandbox.invalid"), self.host, self._port
        )

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
