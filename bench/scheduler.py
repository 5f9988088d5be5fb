"""Benchmark the casework claimer with 100,000 pending actions, on SQLite and on PostgreSQL.

Usage::

    .venv/bin/python bench/scheduler.py [--backend sqlite|postgresql|both] [--actions N]
                                        [--live N] [--window SECONDS] [--processes N] [--json]

For each backend, in a database of its own (a temporary SQLite file; a PostgreSQL database
with a unique name on the local server, dropped afterwards):

1. **backlog**: N actions overdue after "downtime" are drained by one process; figures:
   actions per second (claim, run the job, queue its message, schedule its follow-up, mark it
   done, commit), peak memory (RSS), and how many actions ran more than once or not at all.
2. **processes**: the same N actions again, drained by ``--processes`` separate OS processes
   started together (two ``intake serve``\\ s on one database): duplicates and misses across
   them, counted from every job each process ran, and from the rows (a committed second claim
   would leave ``attempts`` above 1).
3. **live**: N pending actions, of which ``--live`` fall due spread over ``--window`` seconds
   while a ``CaseworkScheduler`` runs with its real APScheduler wake-up (date job re-armed for
   the next due time, 30 s safety net); lateness is the time a job started minus its due time.

The jobs are the real ones (alerts, reminders, update reminders, flags, callbacks) on P1
cases, so nothing waits for office hours whatever the time of day. ``--json`` prints one
object (``actions``, ``per_second``, ``lateness_p99_s``, ``duplicates`` at the top: the worst
backend's figures) and it is written to ``bench/results/scheduler.json``.
Targets: at least 1,000 actions/s, lateness p99 at most 1 s, no duplicates, nothing missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.databases import create_postgres, drop_postgres  # noqa: E402
from casework.context import CaseworkContext, JobContext, context_from_settings  # noqa: E402
from casework.jobs import HANDLERS  # noqa: E402
from casework.scheduler import CaseworkScheduler, drain  # noqa: E402
from intake.settings import Settings, TeamSettings, load_settings  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Case, Officer, OutboxMessage, ScheduledAction  # noqa: E402
from storage.uow import Storage  # noqa: E402

RESULTS = REPO / "bench" / "results" / "scheduler.json"
TARGETS = {"per_second": 1000.0, "lateness_p99_s": 1.0, "duplicates": 0, "missed": 0}
CASES = 1_000
MIX = (
    ("first_contact_reminder", 3),
    ("update_reminder", 2),
    ("officer_flag", 2),
    ("callback_request", 2),
    ("alert_officer", 1),
)
"""Kinds in the proportions the queue holds them."""
KINDS = [kind for kind, weight in MIX for _ in range(weight)]
TEAM = {
    "areas": [{"code": "north", "name": "North", "postcodes": ["DH1"]}],
    "officers": [
        {
            "id": "amara",
            "name": "Amara Okafor",
            "role": "officer",
            "areas": ["north"],
            "alert_by": "email",
            "email": "amara@example.org",
            "phone": "+447700900001",
        },
        {
            "id": "olu",
            "name": "Olu Adeyemi",
            "role": "officer",
            "alert_by": "sms",
            "phone": "+447700900003",
        },
        {
            "id": "chloe",
            "name": "Chloe Patel",
            "role": "manager",
            "alert_by": "email",
            "email": "chloe@example.org",
        },
    ],
    "on_call": "olu",
    "manager": "chloe",
}


def bench_settings() -> Settings:
    loaded = load_settings(REPO / "config.yaml", {})
    return loaded.model_copy(update={"team": TeamSettings.model_validate(TEAM)})


def now() -> datetime:
    return datetime.now(UTC)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class Recorder:
    """Wraps every job to count runs per action and how late each started."""

    def __init__(self) -> None:
        self.runs: Counter[int] = Counter()
        self.lateness: list[float] = []
        self.measure_from: int | None = None
        """Only actions with ids at or above this count towards lateness."""
        self.expected = 0
        self.all_measured = asyncio.Event()

    def install(self) -> None:
        for kind, handler in list(HANDLERS.items()):
            HANDLERS[kind] = self._wrap(handler)

    def _wrap(
        self, handler: Callable[[JobContext, ScheduledAction], Awaitable[None]]
    ) -> Callable[[JobContext, ScheduledAction], Awaitable[None]]:
        async def run(ctx: JobContext, action: ScheduledAction) -> None:
            started = time.time()
            self.runs[action.id] += 1
            if self.measure_from is not None and action.id >= self.measure_from:
                self.lateness.append(started - action.due_at.timestamp())
                if len(self.lateness) >= self.expected:
                    self.all_measured.set()
            await handler(ctx, action)

        return run


# --- databases ---------------------------------------------------------------------------------


async def prepare(url: str, settings: Settings) -> list[int]:
    """A migrated database with the team and CASES open P1 cases; returns the case ids."""
    await asyncio.to_thread(upgrade, url)
    storage = Storage.from_url(url)
    try:
        async with storage.unit_of_work() as uow:
            for officer in settings.team.officers:
                uow.session.add(
                    Officer(
                        id=officer.id,
                        name=officer.name,
                        role=officer.role,
                        alert_by=officer.alert_by,
                        email=officer.email,
                        phone=officer.phone,
                        areas=list(officer.areas),
                        active=True,
                    )
                )
            await uow.session.flush()
            received = now() - timedelta(days=1)
            uow.session.add_all(
                Case(
                    reference=f"ASB-2026-{n + 1:06d}",
                    status="open",
                    priority="P1",
                    category="hate_incident",
                    hate=True,
                    officer_id="amara",
                    area_code="north",
                    received_at=received,
                    created_at=received,
                    updated_at=received,
                    deadline_at=received + timedelta(days=30),
                )
                for n in range(CASES)
            )
        async with storage.session() as session:
            return list((await session.execute(select(Case.id).order_by(Case.id))).scalars())
    finally:
        await storage.close()


async def add_actions(
    storage: Storage, case_ids: list[int], due: Callable[[int], datetime], count: int, tag: str
) -> None:
    """``count`` actions of the mix, the n-th due at ``due(n)``, inserted in chunks."""
    chunk = 5_000
    for start in range(0, count, chunk):
        async with storage.unit_of_work() as uow:
            await uow.actions.schedule_many(
                [
                    {
                        "kind": KINDS[n % len(KINDS)],
                        "due_at": due(n),
                        "case_id": case_ids[n % len(case_ids)],
                        "dedupe_key": f"{tag}:{n}",
                        "payload": {"reason": "bench", "number": "+447700900123"},
                        "created_at": now(),
                    }
                    for n in range(start, min(start + chunk, count))
                ]
            )


async def reset(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        await uow.session.execute(OutboxMessage.__table__.delete())
        await uow.session.execute(ScheduledAction.__table__.delete())


async def row_check(storage: Storage, tag: str) -> dict[str, int]:
    """From the rows: tagged actions not done, and done ones claimed (committed) twice."""
    async with storage.session() as session:
        tagged = ScheduledAction.dedupe_key.like(f"{tag}:%")
        not_done = await session.scalar(
            select(func.count()).where(tagged, ScheduledAction.status != "done")
        )
        twice = await session.scalar(
            select(func.count()).where(tagged, ScheduledAction.attempts > 1)
        )
    return {"rows_not_done": int(not_done or 0), "rows_claimed_twice": int(twice or 0)}


def duplicates_and_missed(runs: Counter[int], expected: int) -> tuple[int, int]:
    return sum(c - 1 for c in runs.values() if c > 1), expected - len(runs)


# --- phases -----------------------------------------------------------------------------------


async def backlog(
    url: str, context: CaseworkContext, case_ids: list[int], n: int
) -> dict[str, Any]:
    storage = Storage.from_url(url)
    recorder = Recorder()
    recorder.install()
    try:
        await reset(storage)
        await add_actions(storage, case_ids, lambda i: now() - timedelta(hours=12), n, "backlog")
        started, cpu = time.perf_counter(), time.process_time()
        report = await drain(storage, context, now, "bench-backlog")
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        duplicates, missed = duplicates_and_missed(recorder.runs, n)
        return {
            "actions": n,
            "seconds": round(elapsed, 2),
            "per_second": round(n / elapsed, 1),
            "client_cpu_ms_per_action": round(cpu * 1000 / n, 3),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "failed": report.failed,
            "messages_queued": report.messages,
            "duplicates": duplicates,
            "missed": missed,
            **await row_check(storage, "backlog"),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }
    finally:
        restore_handlers(recorder)
        await storage.close()


ORIGINAL_HANDLERS = dict(HANDLERS)


def restore_handlers(_: Recorder) -> None:
    HANDLERS.clear()
    HANDLERS.update(ORIGINAL_HANDLERS)


async def processes(url: str, case_ids: list[int], n: int, count: int) -> dict[str, Any]:
    storage = Storage.from_url(url)
    try:
        await reset(storage)
        await add_actions(storage, case_ids, lambda i: now() - timedelta(hours=12), n, "procs")
    finally:
        await storage.close()
    start_at = time.time() + 4.0  # every process has imported and connected by then
    with tempfile.TemporaryDirectory() as folder:
        outputs = [Path(folder) / f"worker{i}.json" for i in range(count)]
        children = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--worker",
                url,
                f"serve-{i + 1}",
                str(out),
                str(start_at),
            )
            for i, out in enumerate(outputs)
        ]
        await asyncio.wait_for(asyncio.gather(*(c.wait() for c in children)), timeout=1800)
        results = [json.loads(out.read_text()) for out in outputs]
    runs: Counter[int] = Counter()
    for result in results:
        runs.update({int(k): v for k, v in result["runs"].items()})
    duplicates, missed = duplicates_and_missed(runs, n)
    storage = Storage.from_url(url)
    try:
        rows = await row_check(storage, "procs")
    finally:
        await storage.close()
    elapsed = max(r["finished"] for r in results) - start_at
    return {
        "processes": count,
        "actions": n,
        "seconds": round(elapsed, 2),
        "per_second": round(n / elapsed, 1),
        "by_process": [sum(r["runs"].values()) for r in results],
        "load_average_1m": round(os.getloadavg()[0], 2),
        "failed": sum(r["failed"] for r in results),
        "duplicates": duplicates,
        "missed": missed,
        **rows,
    }


def worker_main(url: str, name: str, out: str, start_at: float) -> None:
    """One of the ``processes`` phase's OS processes: drain, then report every run."""
    settings = bench_settings()
    context = context_from_settings(settings)
    recorder = Recorder()
    recorder.install()

    async def work() -> dict[str, Any]:
        storage = Storage.from_url(url)
        try:
            await asyncio.sleep(max(0.0, start_at - time.time()))
            report = await drain(storage, context, now, name)
        finally:
            await storage.close()
        return {"runs": dict(recorder.runs), "failed": report.failed, "finished": time.time()}

    Path(out).write_text(json.dumps(asyncio.run(work())), encoding="utf-8")


async def live(
    url: str,
    context: CaseworkContext,
    case_ids: list[int],
    pending: int,
    live_n: int,
    window: float,
) -> dict[str, Any]:
    storage = Storage.from_url(url)
    recorder = Recorder()
    recorder.install()
    casework: CaseworkScheduler | None = None
    try:
        await reset(storage)
        later = now() + timedelta(days=1)
        await add_actions(storage, case_ids, lambda i: later, pending - live_n, "later")
        async with storage.session() as session:
            recorder.measure_from = (
                int(await session.scalar(select(func.max(ScheduledAction.id))) or 0) + 1
            )
        first_due = now() + timedelta(seconds=3)
        recorder.expected = live_n
        step = timedelta(seconds=window / live_n)
        await add_actions(storage, case_ids, lambda i: first_due + step * i, live_n, "live")
        casework = CaseworkScheduler(storage, context, worker="bench-live", clock=now)
        await casework.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(recorder.all_measured.wait(), timeout=window + 120)
        await casework.stop()
        casework = None
        lateness = sorted(recorder.lateness)
        duplicates, missed = duplicates_and_missed(
            Counter({k: v for k, v in recorder.runs.items() if k >= recorder.measure_from}),
            live_n,
        )
        async with storage.session() as session:
            still_pending = await session.scalar(
                select(func.count()).where(ScheduledAction.status == "pending")
            )
        return {
            "pending_actions": pending,
            "live_actions": live_n,
            "window_s": window,
            "due_per_second": round(live_n / window, 1),
            "lateness_p50_s": round(percentile(lateness, 0.50), 4),
            "lateness_p99_s": round(percentile(lateness, 0.99), 4),
            "lateness_max_s": round(lateness[-1], 4) if lateness else None,
            "early": sum(1 for value in lateness if value < 0),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "duplicates": duplicates,
            "missed": missed,
            "still_pending": int(still_pending or 0),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }
    finally:
        if casework is not None:
            await casework.stop()
        restore_handlers(recorder)
        await storage.close()


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(share * len(values)))]


async def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    settings = bench_settings()
    context = context_from_settings(settings)
    folder: tempfile.TemporaryDirectory[str] | None = None
    if backend == "sqlite":
        folder = tempfile.TemporaryDirectory()
        url = f"sqlite+aiosqlite:///{folder.name}/bench.db"
    else:
        url = await create_postgres("bench_scheduler")
    try:
        case_ids = await prepare(url, settings)
        result: dict[str, Any] = {"url": make_url(url).render_as_string(hide_password=True)}
        say(f"{backend}: backlog of {args.actions:,} overdue actions, one process ...")
        result["backlog"] = await backlog(url, context, case_ids, args.actions)
        say(f"{backend}: the same backlog, {args.processes} processes ...")
        result["processes"] = await processes(url, case_ids, args.actions, args.processes)
        say(f"{backend}: {args.actions:,} pending, {args.live:,} due over {args.window:g} s ...")
        result["live"] = await live(url, context, case_ids, args.actions, args.live, args.window)
        return result
    finally:
        if folder is not None:
            folder.cleanup()
        else:
            await drop_postgres(url)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def summarise(backends: dict[str, dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    per_second = min(b["backlog"]["per_second"] for b in backends.values())
    p99 = max(b["live"]["lateness_p99_s"] for b in backends.values())
    duplicates = sum(
        b[phase]["duplicates"] + b[phase].get("rows_claimed_twice", 0)
        for b in backends.values()
        for phase in ("backlog", "processes", "live")
    )
    missed = sum(
        b[phase]["missed"] + b[phase].get("rows_not_done", 0)
        for b in backends.values()
        for phase in ("backlog", "processes", "live")
    )
    summary = {
        "actions": args.actions,
        "per_second": per_second,
        "lateness_p99_s": p99,
        "duplicates": duplicates,
        "missed": missed,
        "peak_rss_mb": max(b["live"]["peak_rss_mb"] for b in backends.values()),
        "targets": TARGETS,
    }
    summary["meets_targets"] = (
        per_second >= TARGETS["per_second"]
        and p99 <= TARGETS["lateness_p99_s"]
        and duplicates == 0
        and missed == 0
    )
    summary["backends"] = backends
    summary["machine"] = {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "note": "shared machine: other work running at the same time lowers per_second; "
        "load_average_1m is recorded with each phase",
    }
    summary["measured_at"] = now().isoformat(timespec="seconds")
    return summary


def print_human(summary: dict[str, Any]) -> None:
    for name, b in summary["backends"].items():
        back, procs, lv = b["backlog"], b["processes"], b["live"]
        print(f"{name}:")
        print(
            f"  backlog   {back['actions']:,} actions in {back['seconds']} s = "
            f"{back['per_second']:,.0f}/s, duplicates {back['duplicates']}, missed "
            f"{back['missed']}, failed {back['failed']}, peak RSS {back['peak_rss_mb']} MB, "
            f"client CPU {back['client_cpu_ms_per_action']} ms/action, "
            f"load {back['load_average_1m']}"
        )
        print(
            f"  {procs['processes']} procs   {procs['actions']:,} actions in {procs['seconds']} s "
            f"= {procs['per_second']:,.0f}/s (split {procs['by_process']}), duplicates "
            f"{procs['duplicates']}, claimed twice {procs['rows_claimed_twice']}, missed "
            f"{procs['missed']}"
        )
        print(
            f"  live      {lv['pending_actions']:,} pending, {lv['live_actions']:,} due at "
            f"{lv['due_per_second']:,.0f}/s: lateness p50 {lv['lateness_p50_s']} s, p99 "
            f"{lv['lateness_p99_s']} s, max {lv['lateness_max_s']} s; duplicates "
            f"{lv['duplicates']}, missed {lv['missed']}, load {lv['load_average_1m']}"
        )
    print(
        f"worst: {summary['per_second']:,.0f} actions/s, lateness p99 "
        f"{summary['lateness_p99_s']} s, {summary['duplicates']} duplicates, "
        f"{summary['missed']} missed; targets "
        f"{'met' if summary['meets_targets'] else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--actions", type=int, default=100_000)
    parser.add_argument("--live", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--worker", nargs=4, metavar=("URL", "NAME", "OUT", "START_AT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.worker:
        url, name, out, start_at = args.worker
        worker_main(url, name, out, float(start_at))
        return
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    results = {name: asyncio.run(run_backend(name, args)) for name in backends}
    summary = summarise(results, args)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(summary))
    else:
        print_human(summary)


if __name__ == "__main__":
    main()
