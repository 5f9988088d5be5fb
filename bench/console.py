"""Benchmark the officer console: the queue and case pages with 100,000 cases, and the monthly
report over 1,000,000 cases on PostgreSQL.

Usage::

    .venv/bin/python bench/console.py [--backend sqlite|postgresql|both] [--cases N]
                                      [--report-cases N] [--requests N] [--json]

For each backend, in a database of its own (a temporary SQLite file; a PostgreSQL database with
a unique name on the local server, dropped afterwards):

1. ``--cases`` cases (default 100,000) over the last two years are written in bulk, as a
   landlord's history would look: most closed, about one in eight open or incomplete, some
   past their first-contact deadline; each with its incidents and a transcript (five messages
   in, five out), so the case page reads the tables at a realistic size.
2. The console is served by uvicorn on loopback and signed into as a manager and an officer.
   ``--requests`` queue pages are fetched one after another across the filters a manager and
   an officer use (status, priority, category, officer, area, breaches only, later pages), and
   as many case pages of hate cases (each view is written to the audit trail). Figures: p50,
   p95 and max in milliseconds, measured by the client (HTTP over loopback included).
3. PostgreSQL only: the database is grown to ``--report-cases`` (default 1,000,000) with
   100,000 answered surveys, analysed, and the monthly report for last month is timed (first
   run and the best of three); the queue is measured again at that size for information.

``--json`` prints one object (``queue_p95_ms``, ``case_p95_ms``, ``report_seconds`` at the top:
the worst backend's figures) and it is written to ``bench/results/console.json``.
Targets: queue page p95 under 200 ms and a case page under 100 ms with 100,000 cases; the
monthly report over 1,000,000 cases under 5 s on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import re
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.databases import create_postgres, drop_postgres  # noqa: E402
from casework.console import AreaView, ConsoleSettings, console_router  # noqa: E402
from casework.console.auth import hash_password  # noqa: E402
from casework.context import context_from_settings  # noqa: E402
from casework.reports import month_start, monthly_report  # noqa: E402
from intake.settings import Settings, load_settings  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import (  # noqa: E402
    Case,
    ChannelIdentity,
    InboundMessage,
    Incident,
    Officer,
    OutboxMessage,
    Person,
)
from storage.uow import Storage  # noqa: E402

RESULTS = REPO / "bench" / "results" / "console.json"
TARGETS = {"queue_p95_ms": 200.0, "case_p95_ms": 100.0, "report_seconds": 5.0}
PASSWORD = "bench password for the console"
SECRET = "bench-console-secret-key-0123456789abcdef"
OFFICERS = [
    ("amara", "Amara Okafor", "officer", ["north"]),
    ("ben", "Ben Walsh", "officer", ["south"]),
    ("olu", "Olu Adeyemi", "officer", ["east"]),
    ("priya", "Priya Shah", "officer", ["west"]),
    ("chloe", "Chloe Patel", "manager", []),
]
AREAS = (
    AreaView("north", "North estates", ("Elm Court", "Ash House")),
    AreaView("south", "South estates", ("Oak Tower", "Birch Walk")),
    AreaView("east", "East estates", ("Cedar Rise",)),
    AreaView("west", "West estates", ("Willow Gardens", "Hazel Close")),
)
CATEGORIES = [
    ("noise", 30), ("verbal_abuse", 10), ("harassment_intimidation", 10), ("hate_incident", 8),
    ("youth_disorder", 8), ("drugs_alcohol", 6), ("property_damage", 5), ("graffiti", 4),
    ("vehicle_nuisance", 4), ("litter_fly_tipping", 4), ("animal_nuisance", 3),
    ("domestic_abuse", 3), ("violence_threats", 3), ("not_asb", 2),
]
P1 = {"hate_incident", "domestic_abuse", "violence_threats", "harassment_intimidation",
      "drugs_alcohol"}
QUEUE_VIEWS = {
    "manager": [
        "", "?priority=P1", "?status=all", "?status=all&page=50", "?officer=amara",
        "?area=north&priority=P2", "?breached=1", "?category=noise", "?status=closed",
        "?page=20",
    ],
    "officer": ["", "?priority=P1", "?status=all", "?breached=1"],
}
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def figures(samples: list[float]) -> dict[str, float]:
    return {
        "requests": len(samples),
        "p50_ms": round(percentile(samples, 0.5), 1),
        "p95_ms": round(percentile(samples, 0.95), 1),
        "max_ms": round(max(samples), 1),
    }


def settings_for(url: str) -> Settings:
    return load_settings(REPO / "config.yaml", {"INTAKE_DATABASE__URL": url})


# --- databases ------------------------------------------------------------------------------------


# --- data -----------------------------------------------------------------------------------------


class History:
    """Generates cases (and their messages) deterministically, numbered from 1."""

    def __init__(self, now: datetime, seed: int = 7) -> None:
        self.now = now
        self.random = random.Random(seed)
        self.categories = [c for c, weight in CATEGORIES for _ in range(weight)]
        self.blocks = {a.code: a.blocks for a in AREAS}

    def case(self, number: int, identity_id: int | None) -> dict[str, Any]:
        rng = self.random
        category = rng.choice(self.categories)
        hate = category == "hate_incident"
        not_asb = category == "not_asb"
        priority = "P3" if not_asb else ("P1" if category in P1 or rng.random() < 0.1 else "P2")
        age = timedelta(minutes=rng.randint(0, 730 * 24 * 60))
        received = self.now - age
        deadline = received + timedelta(days={"P1": 1, "P2": 7, "P3": 14}[priority])
        recent = age < timedelta(days=120)
        active = recent and rng.random() < 0.45
        contacted = rng.random() < (0.6 if active else 0.95)
        first_contact = None
        if contacted:
            late = rng.random() < 0.12
            span = (deadline - received).total_seconds()
            offset = span * (1 + rng.random()) if late else span * rng.random()
            first_contact = min(received + timedelta(seconds=offset), self.now)
        closed = None
        if not active:
            closed = min(received + timedelta(days=rng.randint(3, 120)), self.now)
        area = rng.choice(["north", "south", "east", "west", "north", None])
        block = rng.choice(self.blocks[area]) if area and rng.random() < 0.7 else None
        officer = {"north": "amara", "south": "ben", "east": "olu", "west": "priya"}.get(
            area or "", rng.choice(["amara", "ben", None])
        )
        status = "closed" if closed else ("draft" if rng.random() < 0.03 else "open")
        return {
            "reference": f"ASB-{received.year}-{number:07d}",
            "status": status,
            "priority": priority,
            "category": category,
            "categories": [category],
            "hate": hate,
            "hate_perceived_by_reporter": True if hate else None,
            "emergency": False,
            "not_asb": not_asb,
            "risk_level": rng.choice(["low", "medium", "high"]),
            "triage_reasons": [f"{category.replace('_', ' ')} in the report"],
            "reporter_id": None,
            "reporter_identity_id": identity_id,
            "anonymous": identity_id is None,
            "adjustments": {},
            "update_every_days": 14,
            "area_code": area,
            "block": block,
            "location": f"{block or 'near the shops'}, DH{rng.randint(1, 7)}",
            "summary": "It happened again last night and I could not sleep.",
            "officer_id": officer,
            "received_at": received,
            "deadline_at": deadline,
            "first_contact_at": first_contact,
            "case_review_flag": rng.random() < 0.02,
            "acknowledged_at": first_contact,
            "last_update_at": first_contact,
            "closed_at": closed,
            "closure_reason": "resolved" if closed else None,
            "created_at": received,
            "updated_at": closed or first_contact or received,
        }


def batches(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def add_team(storage: Storage) -> None:
    hashed = hash_password(PASSWORD)
    async with storage.unit_of_work() as uow:
        for officer_id, name, role, areas in OFFICERS:
            uow.session.add(
                Officer(id=officer_id, name=name, role=role, alert_by="email",
                        email=f"{officer_id}@example.org", areas=areas, active=True,
                        password_hash=hashed)
            )


async def fill(storage: Storage, history: History, first: int, count: int) -> None:
    """Write ``count`` cases numbered from ``first``, each with a reporter, an incident and
    a ten-message transcript, in bulk."""
    is_postgres = storage.engine.dialect.name == "postgresql"
    done = 0
    for chunk in batches(iter(range(first, first + count)), 10_000):
        people = [{"name": f"Reporter {n}"} for n in chunk]
        async with storage.unit_of_work() as uow:
            person_ids = (
                await uow.session.execute(insert(Person).returning(Person.id), people)
            ).scalars().all()
            identities = [
                {"person_id": pid, "channel": "sms", "address": f"+4477{n:09d}"}
                for pid, n in zip(person_ids, chunk, strict=True)
            ]
            identity_ids = (
                await uow.session.execute(
                    insert(ChannelIdentity).returning(ChannelIdentity.id), identities
                )
            ).scalars().all()
            cases = [
                {**history.case(n, iid), "reporter_id": pid}
                for n, iid, pid in zip(chunk, identity_ids, person_ids, strict=True)
            ]
            case_ids = (
                await uow.session.execute(insert(Case).returning(Case.id), cases)
            ).scalars().all()
            await uow.session.execute(
                insert(Incident),
                [{"case_id": cid, "reported_at": c["received_at"],
                  "description": c["summary"]} for cid, c in zip(case_ids, cases, strict=True)],
            )
            inbound, outbound = [], []
            for cid, iid, c, ident in zip(case_ids, identity_ids, cases, identities, strict=True):
                for k in range(5):
                    at = c["received_at"] + timedelta(minutes=k)
                    inbound.append({
                        "channel": "sms", "external_id": f"SM{cid}x{k}",
                        "sender": ident["address"], "received_at": at,
                        "payload": f"Body=answer+{k}&From={ident['address']}".encode(),
                        "status": "processed",
                    })
                    outbound.append({
                        "idempotency_key": f"reply:{cid}:{k}", "channel": "sms",
                        "recipient": ident["address"], "identity_id": iid, "case_id": cid,
                        "body": f"Question {k}?", "extra": {}, "status": "sent",
                        "attempts": 1, "next_attempt_at": at, "created_at": at,
                    })
            await uow.session.execute(insert(InboundMessage), inbound)
            await uow.session.execute(insert(OutboxMessage), outbound)
        done += len(chunk)
        if done % 100_000 == 0 or done == count:
            say(f"  {first + done - 1:,} cases written")
    if is_postgres:  # as autovacuum would after a bulk load (sets the visibility map too)
        async with storage.engine.connect() as connection:
            ready = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await ready.execute(text("VACUUM ANALYZE"))


async def fill_report_only(storage: Storage, history: History, first: int, count: int) -> None:
    """Cases only (no messages), copied in with COPY: the report reads only the cases."""
    import asyncpg

    columns = list(history.case(0, None))
    url = make_url(str(storage.engine.url.render_as_string(hide_password=False)))
    connection = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password,
        database=url.database,
    )
    try:
        for chunk in batches(iter(range(first, first + count)), 50_000):
            records = []
            for n in chunk:
                row = history.case(n, None)
                records.append(tuple(
                    json.dumps(v) if isinstance(v, (list, dict)) else v for v in row.values()
                ))
            await connection.copy_records_to_table("cases", records=records, columns=columns)
            say(f"  {chunk[-1]:,} cases")
        surveys = await connection.fetch(
            "SELECT id, closed_at FROM cases WHERE status = 'closed' ORDER BY random() "
            "LIMIT 100000"
        )
        rng = random.Random(11)
        await connection.copy_records_to_table(
            "survey_responses",
            records=[
                (r["id"], "sms", "tp12", r["closed_at"] + timedelta(days=7),
                 r["closed_at"] + timedelta(days=8), rng.choice([1, 1, 2, 2, 2, 3, 4, 5]))
                for r in surveys
            ],
            columns=["case_id", "channel", "question", "asked_at", "answered_at", "score"],
        )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


# --- serving and measuring ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(storage: Storage, view: ConsoleSettings) -> AsyncIterator[str]:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(console_router(storage=storage, settings_view=view,
                                      clock=lambda: datetime.now(UTC), secret_key=SECRET,
                                      cookie_secure=False))
    port = free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                    lifespan="off", access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def signed_in(base: str, username: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=60)
    page = await client.get("/console/login")
    token = _TOKEN.search(page.text)
    assert token is not None
    response = await client.post(
        "/console/login",
        data={"csrf_token": token.group(1), "username": username, "password": PASSWORD},
        headers={"Origin": base, "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 303, response.text[:500]
    return client


async def timed(client: httpx.AsyncClient, path: str) -> float:
    started = time.perf_counter()
    response = await client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (path, response.status_code)
    return elapsed


async def measure_pages(
    storage: Storage, view: ConsoleSettings, requests: int
) -> dict[str, Any]:
    async with storage.session() as session:
        hate_cases = (
            await session.execute(
                text("SELECT reference FROM cases WHERE hate AND status = 'open' "
                     "ORDER BY id LIMIT 200")
            )
        ).scalars().all()
    async with serving(storage, view) as base:
        manager = await signed_in(base, "chloe")
        officer = await signed_in(base, "amara")
        try:
            for client, path in ((manager, "/console/queue"), (officer, "/console/queue")):
                for _ in range(3):  # warm-up: templates, connections, plans
                    await timed(client, path)
            queue: list[float] = []
            by_view: dict[str, list[float]] = {}
            paths = [(manager, "manager", v) for v in QUEUE_VIEWS["manager"]] + [
                (officer, "officer", v) for v in QUEUE_VIEWS["officer"]
            ]
            for index in range(requests):
                client, who, query = paths[index % len(paths)]
                elapsed = await timed(client, "/console/queue" + query)
                queue.append(elapsed)
                by_view.setdefault(f"{who} {query or '(default)'}", []).append(elapsed)
            cases: list[float] = []
            for index in range(requests):
                reference = hate_cases[index % len(hate_cases)]
                cases.append(await timed(manager, f"/console/cases/{reference}"))
        finally:
            await manager.aclose()
            await officer.aclose()
    return {
        "queue": figures(queue),
        "queue_by_view_p95_ms": {k: round(percentile(v, 0.95), 1) for k, v in by_view.items()},
        "case": figures(cases),
    }


async def measure_report(storage: Storage, settings: Settings) -> dict[str, Any]:
    policy = settings.policy
    now = datetime.now(UTC)
    local = now.astimezone(policy.zone).date().replace(day=1)
    month = month_start(local, policy.zone, -1).date()
    names = {a.code: a.name for a in AREAS}
    runs = []
    report = None
    for _ in range(3):
        started = time.perf_counter()
        report = await monthly_report(storage, month, policy=policy, now=now, area_names=names)
        runs.append(time.perf_counter() - started)
    assert report is not None
    return {
        "month": report.month,
        "first_run_seconds": round(runs[0], 3),
        "best_seconds": round(min(runs), 3),
        "asb_cases_in_month": report.asb_cases,
        "open_cases": report.open_cases,
        "surveys_answered": report.satisfaction.answered,
    }


# --- the run --------------------------------------------------------------------------------------


async def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    folder: tempfile.TemporaryDirectory[str] | None = None
    if backend == "sqlite":
        folder = tempfile.TemporaryDirectory()
        url = f"sqlite+aiosqlite:///{folder.name}/bench.db"
    else:
        url = await create_postgres("bench_console")
    settings = settings_for(url)
    view = ConsoleSettings(casework=context_from_settings(settings), areas=AREAS)
    storage: Storage | None = None
    try:
        await asyncio.to_thread(upgrade, url)
        storage = Storage.from_url(url)
        await add_team(storage)
        history = History(datetime.now(UTC))
        say(f"{backend}: writing {args.cases:,} cases with their transcripts ...")
        started = time.perf_counter()
        await fill(storage, history, 1, args.cases)
        result: dict[str, Any] = {
            "url": make_url(url).render_as_string(hide_password=True),
            "cases": args.cases,
            "fill_seconds": round(time.perf_counter() - started, 1),
        }
        say(f"{backend}: {args.requests} queue pages and {args.requests} case pages ...")
        result["pages"] = await measure_pages(storage, view, args.requests)
        say(f"{backend}: monthly report over {args.cases:,} cases ...")
        result["report_at_cases"] = await measure_report(storage, settings)
        if backend == "postgresql" and args.report_cases > args.cases:
            more = args.report_cases - args.cases
            say(f"{backend}: growing to {args.report_cases:,} cases (COPY) ...")
            await fill_report_only(storage, history, args.cases + 1, more)
            say(f"{backend}: monthly report over {args.report_cases:,} cases ...")
            result["report"] = {"cases": args.report_cases,
                                **await measure_report(storage, settings)}
            say(f"{backend}: queue pages at {args.report_cases:,} cases (for information) ...")
            big = await measure_pages(storage, view, max(40, args.requests // 4))
            result["pages_at_report_cases"] = {
                "queue": big["queue"], "queue_by_view_p95_ms": big["queue_by_view_p95_ms"],
                "case": big["case"],
            }
        return result
    finally:
        if storage is not None:
            await storage.close()
        if folder is not None:
            folder.cleanup()
        else:
            await drop_postgres(url)


def summarise(backends: dict[str, dict[str, Any]]) -> dict[str, Any]:
    queue_p95 = max(b["pages"]["queue"]["p95_ms"] for b in backends.values())
    case_p95 = max(b["pages"]["case"]["p95_ms"] for b in backends.values())
    postgres = backends.get("postgresql", {})
    report = postgres.get("report") or postgres.get("report_at_cases")
    report_seconds = report["first_run_seconds"] if report else None
    report_cases = report.get("cases", postgres.get("cases")) if report else None
    summary: dict[str, Any] = {
        "queue_p95_ms": queue_p95,
        "case_p95_ms": case_p95,
        "report_seconds": report_seconds,
        "report_cases": report_cases,
        "cases": max(b["cases"] for b in backends.values()),
        "targets": TARGETS,
    }
    summary["meets_targets"] = (
        queue_p95 < TARGETS["queue_p95_ms"]
        and case_p95 < TARGETS["case_p95_ms"]
        and report_seconds is not None
        and report_seconds < TARGETS["report_seconds"]
    )
    summary["backends"] = backends
    summary["machine"] = {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "load_average_1m": round(os.getloadavg()[0], 2),
        "note": "client and server share one process and event loop; shared machine",
    }
    summary["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return summary


def print_human(summary: dict[str, Any]) -> None:
    for name, b in summary["backends"].items():
        pages = b["pages"]
        q, c = pages["queue"], pages["case"]
        print(f"{name}: {b['cases']:,} cases (written in {b['fill_seconds']} s)")
        print(f"  queue page  p50 {q['p50_ms']} ms, p95 {q['p95_ms']} ms, max {q['max_ms']} ms "
              f"({q['requests']} requests)")
        for view, p95 in pages["queue_by_view_p95_ms"].items():
            print(f"    {view:<34} p95 {p95} ms")
        print(f"  case page   p50 {c['p50_ms']} ms, p95 {c['p95_ms']} ms, max {c['max_ms']} ms")
        small = b["report_at_cases"]
        print(f"  report      {small['month']} over {b['cases']:,} cases: "
              f"{small['first_run_seconds']} s (best {small['best_seconds']} s)")
        if "report" in b:
            r = b["report"]
            print(f"  report      {r['month']} over {r['cases']:,} cases: "
                  f"{r['first_run_seconds']} s (best {r['best_seconds']} s); "
                  f"{r['asb_cases_in_month']:,} ASB cases that month, {r['open_cases']:,} open")
            big = b["pages_at_report_cases"]
            print(f"  at {r['cases']:,} cases: queue p95 {big['queue']['p95_ms']} ms, "
                  f"case p95 {big['case']['p95_ms']} ms")
    print(
        f"worst: queue p95 {summary['queue_p95_ms']} ms, case p95 {summary['case_p95_ms']} ms, "
        f"report {summary['report_seconds']} s over {summary['report_cases']:,} cases; targets "
        f"{'met' if summary['meets_targets'] else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--report-cases", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    results = {name: asyncio.run(run_backend(name, args)) for name in backends}
    summary = summarise(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(summary))
    else:
        print_human(summary)


if __name__ == "__main__":
    main()
