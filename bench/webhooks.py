"""Webhook benchmark: signed SMS webhooks end to end through ``intake serve`` (real HTTP, real
database, SQLite and PostgreSQL) beside a bare Starlette form-echo app measured in the same run.

Prints figures and, with ``--json``, one JSON object; always writes
``bench/results/webhooks.json``. Figures:

* ``throughput_ratio_vs_echo``: signed SMS webhooks per second through intake (each a new
  reporter, so a full first step: classification, engine, one transaction) over the echo app's
  requests per second, same client, same connections (target ≥ 0.20);
* ``p50_ms_at_200`` / ``p99_ms_at_200``: latency at a fixed 200 messages per second (target
  p99 < 50 ms);
* ``cpu_ms_per_message``: the ``intake serve`` process's CPU time (all threads) per first
  message during the throughput run (steadier than requests per second on a busy machine);
* ``emails_per_second``: reports accepted over SMTP (250 only once stored);
* ``first_message_ms``: the first report after start-up (nothing left to compile by then);
* ``duplicates`` / ``lost``: 1,000 concurrent deliveries of one MessageSid create one stored
  message, and every message answered 2xx is in the database (targets 0 and 0).

Usage: ``.venv/bin/python bench/webhooks.py [--json] [--quick] [--no-postgres]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiosmtplib
import httpx
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.databases import create_postgres, drop_postgres  # noqa: E402
from channels.twilio import MESSAGES_PATH  # noqa: E402
from channels.twilio_sandbox import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN  # noqa: E402
from storage.models import InboundMessage  # noqa: E402
from storage.uow import Storage  # noqa: E402

INTAKE = str(Path(sys.executable).parent / "intake")
WRK = shutil.which("wrk")
"""wrk (Debian package) drives the throughput runs when installed; otherwise a Python client,
which is much slower than the servers it measures and flatters the ratio (reported as such)."""
REPORTS = [
    "loud music from flat 4 every night until 3am",
    "my neighbour keeps shouting abuse at me on the stairs",
    "someone dumped a mattress by the bins",
    "kids kicking footballs at cars in the car park",
    "people dealing drugs in the stairwell",
    "lads on the corner shouted racist names at my wife",
]
ECHO_APP = """
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

async def echo(request):
    form = await request.form()
    body = form.get("Body", "")
    xml = f"<?xml version='1.0' encoding='UTF-8'?><Response><Message>{body}</Message></Response>"
    return Response(xml, media_type="application/xml")

app = Starlette(routes=[Route("/webhooks/twilio/messages", echo, methods=["POST"])])
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} never answered")


class Intake:
    """``intake serve`` in a subprocess on its own database."""

    def __init__(self, database_url: str, folder: Path) -> None:
        self.port, self.smtp_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
        env.update(
            INTAKE_DATABASE__URL=database_url,
            INTAKE_HTTP__PORT=str(self.port),
            INTAKE_SERVICE__PUBLIC_BASE_URL=self.base,
            INTAKE_SERVICE__DATA_DIR=str(folder / "var"),
            INTAKE_SERVICE__LOG_LEVEL="WARNING",
            INTAKE_CHANNELS__EMAIL__LISTEN_PORT=str(self.smtp_port),
            INTAKE_CHANNELS__EMAIL__REPLIES_PER_SENDER_PER_HOUR="100000",
        )
        self.process = subprocess.Popen(
            [INTAKE, "--config", str(REPO / "config.yaml"), "serve"],
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(folder / "serve.log").open("wb"),
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    self.warm_up()
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError((folder / "serve.log").read_text())
            time.sleep(0.2)
        raise RuntimeError("intake serve did not start")

    def warm_up(self) -> None:
        """One message first (its latency is kept: the first report after a start must not
        wait for anything to compile)."""
        url = self.base + MESSAGES_PATH
        form, signature = signed_form(url, "warm up: loud music", "SM" + uuid.uuid4().hex,
                                      "+447000000000")
        started = time.perf_counter()
        httpx.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=60)
        self.first_message_ms = (time.perf_counter() - started) * 1000

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=120)


def signed_form(url: str, body: str, sid: str, sender: str) -> tuple[dict[str, str], str]:
    form = {
        "MessageSid": sid,
        "AccountSid": SANDBOX_ACCOUNT_SID,
        "From": sender,
        "To": "+447700900000",
        "Body": body,
        "NumMedia": "0",
    }
    return form, RequestValidator(SANDBOX_AUTH_TOKEN).compute_signature(url, form)


async def flood(base: str, count: int, concurrency: int, prefix: str) -> tuple[float, list[str]]:
    """Send ``count`` signed first messages as fast as ``concurrency`` connections allow."""
    url = base + MESSAGES_PATH
    jobs = []
    for n in range(count):
        sid = f"SM{prefix}{n:08d}".ljust(34, "0")[:34]
        form, signature = signed_form(url, REPORTS[n % len(REPORTS)], sid, f"+4477{n:08d}")
        jobs.append((form, signature, sid))
    queue: asyncio.Queue[tuple[dict[str, str], str, str]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    answered: list[str] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def worker() -> None:
            while not queue.empty():
                form, signature, sid = queue.get_nowait()
                response = await client.post(
                    url, data=form, headers={"X-Twilio-Signature": signature}
                )
                if response.status_code < 300:
                    answered.append(sid)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return count / elapsed, answered


async def steady(
    base: str, rate: float, seconds: float, prefix: str, connections: int = 64
) -> list[float]:
    """Latencies (ms) of signed webhooks sent at a fixed rate, each measured from the moment
    it was due to be sent (waiting for a free connection counts: no coordinated omission).

    The client is raw asyncio streams with the requests built beforehand: httpx cost the
    client 3-9 ms of CPU per request on this 2-core machine, so at 200 requests per second it
    took a core from the server it measured and its own backlog made it slower still.
    """
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    url = base + MESSAGES_PATH
    total = int(rate * seconds)
    requests = []
    for n in range(total):
        sid = f"SM{prefix}{n:08d}".ljust(34, "0")[:34]
        form, signature = signed_form(url, REPORTS[n % len(REPORTS)], sid, f"+4478{n:08d}")
        body = urlencode(form).encode()
        requests.append(
            (
                f"POST {MESSAGES_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"X-Twilio-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
        )
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await asyncio.open_connection(host, port))
    latencies: list[float] = []

    async def one(n: int, due: float) -> None:
        reader, writer = await idle.get()
        try:
            writer.write(requests[n])
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            latencies.append(float("inf"))  # a failure counts as the worst latency
            writer.close()
            idle.put_nowait(await asyncio.open_connection(host, port))
            return
        latencies.append((time.perf_counter() - due) * 1000 if status < 300 else float("inf"))
        idle.put_nowait((reader, writer))

    tasks = []
    begin = time.perf_counter()
    for n in range(total):
        due = begin + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n, due)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait()[1].close()
    return latencies


async def replay(base: str, deliveries: int) -> int:
    """The same MessageSid delivered ``deliveries`` times at once; returns 2xx answers."""
    url = base + MESSAGES_PATH
    sid = "SM" + uuid.uuid4().hex
    form, signature = signed_form(
        url, "someone keeps kicking my door at night", sid, "+447799999999"
    )
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:

        async def deliver() -> httpx.Response:
            for attempt in range(5):  # like Twilio, a sender whose connection dropped retries
                try:
                    return await client.post(url, data=form,
                                             headers={"X-Twilio-Signature": signature})
                except httpx.TransportError:
                    await asyncio.sleep(0.2 * (attempt + 1))
            return httpx.Response(599)

        responses = await asyncio.gather(*(deliver() for _ in range(deliveries)))
    return sum(1 for r in responses if r.status_code < 300)


async def emails(port: int, count: int, concurrency: int) -> tuple[float, list[str]]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)
    accepted: list[str] = []

    async def worker() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            message = EmailMessage()
            message["From"] = f"tenant{n}@example.org"
            message["To"] = "report@asb.example.org"
            message["Subject"] = "Report"
            message_id = f"<bench-{uuid.uuid4().hex}@example.org>"
            message["Message-ID"] = message_id
            message.set_content(REPORTS[n % len(REPORTS)])
            await aiosmtplib.send(message, hostname="127.0.0.1", port=port)
            accepted.append(message_id)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - start), accepted


async def stored_ids(database_url: str, channel: str) -> dict[str, int]:
    storage = Storage.from_url(database_url)
    try:
        async with storage.session() as session:
            rows = await session.execute(
                select(InboundMessage.external_id, func.count())
                .where(InboundMessage.channel == channel)
                .group_by(InboundMessage.external_id)
            )
            return {str(k): int(v) for k, v in rows.all()}
    finally:
        await storage.close()


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a process has used: a figure other load on the
    machine hardly moves, unlike requests per second."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk_script(base: str, count: int, prefix: str, folder: Path) -> Path:
    """A wrk Lua script cycling through ``count`` pre-signed, distinct SMS webhooks."""
    url = base + MESSAGES_PATH
    lines = ["local bodies = {}", "local signatures = {}", "local requests = {}"]
    for n in range(count):
        sid = f"SM{prefix}{n:08d}".ljust(34, "0")[:34]
        form, signature = signed_form(url, REPORTS[n % len(REPORTS)], sid, f"+4479{n:08d}")
        lines.append(f"bodies[{n + 1}] = '{httpx.QueryParams(form)}'")
        lines.append(f"signatures[{n + 1}] = '{signature}'")
    lines += [
        "init = function(args)",  # after wrk knows the host: format each request once
        "  for k = 1, #bodies do",
        f"    requests[k] = wrk.format('POST', '{MESSAGES_PATH}', {{",
        "      ['Content-Type'] = 'application/x-www-form-urlencoded',",
        "      ['X-Twilio-Signature'] = signatures[k]}, bodies[k])",
        "  end",
        "end",
        "local i = 0",
        "request = function()",
        "  i = i + 1",
        "  if i > #requests then i = 1 end",
        "  return requests[i]",
        "end",
    ]
    path = folder / f"{prefix}.lua"
    path.write_text("\n".join(lines))
    return path


def flood_wrk(base: str, script: Path, seconds: int, connections: int) -> tuple[float, int, int]:
    """Requests/s, completed requests and non-2xx answers, from wrk (one thread)."""
    result = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 120,
    )
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))  # type: ignore[union-attr]
    done = int(re.search(r"(\d+) requests in", result.stdout).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    return rate, done, int(bad.group(1)) if bad else 0


def measure_echo(count: int, concurrency: int) -> float:
    folder = Path(tempfile.mkdtemp())
    (folder / "echo_app.py").write_text(ECHO_APP)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "echo_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=folder,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/", process)
        base = f"http://127.0.0.1:{port}"
        if WRK:
            script = wrk_script(base, 1000, "echo", folder)
            return flood_wrk(base, script, 10, concurrency)[0]
        rate, _ = asyncio.run(flood(base, count, concurrency, "echo"))
        return rate
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def bench_backend(name: str, database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    intake = Intake(database_url, folder)
    non_2xx = 0
    try:
        if WRK:
            script = wrk_script(intake.base, args.messages, name, folder)
            cpu_before = process_cpu_seconds(intake.process.pid)
            rate, completed, non_2xx = flood_wrk(
                intake.base, script, args.seconds, args.concurrency
            )
            cpu_ms = 1000 * (process_cpu_seconds(intake.process.pid) - cpu_before) / completed
            answered = []
        else:
            cpu_before = process_cpu_seconds(intake.process.pid)
            rate, answered = asyncio.run(flood(intake.base, args.messages, args.concurrency, name))
            completed = len(answered)
            cpu_ms = 1000 * (process_cpu_seconds(intake.process.pid) - cpu_before) / completed
        latencies = asyncio.run(steady(intake.base, 200, args.seconds, name + "r"))
        replayed = asyncio.run(replay(intake.base, args.replays))
        mail_rate, mail_ids = asyncio.run(emails(intake.smtp_port, args.emails, 16))
        stored = asyncio.run(stored_ids(database_url, "sms"))
        stored_mail = asyncio.run(stored_ids(database_url, "email"))
    finally:
        intake.stop()
    lost = sum(1 for sid in answered if sid not in stored)
    if WRK:  # wrk cannot say which requests were answered: every 2xx must be a stored row
        # (past ``args.messages`` requests wrk starts the script again: those are redeliveries)
        distinct = min(completed - non_2xx, args.messages)
        lost += max(0, distinct - sum(1 for k in stored if k.startswith("SM" + name)))
    lost += sum(1 for message_id in mail_ids if message_id not in stored_mail)
    duplicates = sum(count - 1 for count in stored.values() if count > 1)
    ordered = sorted(latencies)
    return {
        "first_message_ms": round(intake.first_message_ms, 1),
        "webhooks_per_second": round(rate, 1),
        "cpu_ms_per_message": round(cpu_ms, 2),
        "non_2xx": non_2xx,
        "p50_ms_at_200": round(statistics.median(ordered), 2),
        "p99_ms_at_200": round(ordered[int(len(ordered) * 0.99) - 1], 2),
        "emails_per_second": round(mail_rate, 1),
        "replayed_deliveries": args.replays,
        "replayed_answered_2xx": replayed,
        "duplicates": duplicates,
        "lost": lost,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="fewer messages (a smoke run)")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    args.messages = 6000 if args.quick else 30000  # more than wrk can send in the time
    args.seconds = 3 if args.quick else 10
    args.replays = 1000
    args.emails = 100 if args.quick else 500
    args.concurrency = 32

    echo = measure_echo(args.messages * 2, args.concurrency)
    results: dict[str, Any] = {
        "load_generator": "wrk -t1" if WRK else "httpx (install wrk for a fair baseline)",
        "echo_requests_per_second": round(echo, 1),
    }
    with tempfile.TemporaryDirectory() as folder:
        results["sqlite"] = bench_backend("sqlite", f"sqlite+aiosqlite:///{folder}/bench.db", args)
    if not args.no_postgres:
        url = asyncio.run(create_postgres("bench_webhooks"))
        try:
            results["postgresql"] = bench_backend("postgres", url, args)
        finally:
            asyncio.run(drop_postgres(url))
    backends = [results[k] for k in ("sqlite", "postgresql") if k in results]
    results["throughput_ratio_vs_echo"] = round(
        min(b["webhooks_per_second"] for b in backends) / echo, 3
    )
    results["p99_ms_at_200"] = max(b["p99_ms_at_200"] for b in backends)
    results["duplicates"] = sum(b["duplicates"] for b in backends)
    results["lost"] = sum(b["lost"] for b in backends)
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "webhooks.json").write_text(json.dumps(results, indent=2))
    if args.json:
        print(json.dumps(results))
    else:
        for key, value in results.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
