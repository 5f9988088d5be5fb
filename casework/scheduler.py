"""The claimer and the scheduler that wakes it (DESIGN.md: scheduled work is data).

Scheduled actions are rows. ``run_due`` claims a batch of due rows of the kinds casework owns
and runs their jobs **in the same transaction**: on PostgreSQL the claimed rows stay locked
(``FOR UPDATE SKIP LOCKED``) until the messages, follow-ups and "done" marks commit together,
so two ``intake serve`` processes never run one action twice, and a process that dies mid-batch
leaves its rows pending for the next claimer (nothing is lost, nothing is doubled). If a job in
a batch fails, the batch is rolled back and its actions are run one at a time, so one bad row
never holds up the others; the bad one backs off and, after ``MAX_ATTEMPTS``, is marked failed
and flagged to a person.

``CaseworkScheduler`` uses APScheduler only to wake the claimer: a date job re-armed for the
next due time after every run, a safety-net interval, and fixed-id cron duties (daily digest,
fortnightly review, monthly figures) that themselves only schedule a deduplicated row, so each
duty runs once per day or period however many processes there are. APScheduler's job store
(memory) holds only these fixed jobs, never our actions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from casework.context import CaseworkContext, JobContext
from casework.jobs import HANDLERS, WAITS_FOR_OFFICE
from storage.models import ScheduledAction
from storage.repositories import ActionRepository
from storage.uow import Storage
from triage.policy import DurationUnit

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

BATCH = 200
"""Actions claimed per transaction: big enough for throughput, small enough that SQLite's
single writer is never held for long."""

MAX_ATTEMPTS = 5
"""Failed runs before an action is marked failed and flagged to a person."""

HELD_ELSEWHERE_RETRY = timedelta(milliseconds=250)
"""How soon to look again at due actions another process has claimed but not yet finished."""

FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)

OWNED_KINDS: frozenset[str] = frozenset(HANDLERS)
"""The kinds casework claims; anything else (``conversation_idle``) is left to its owner."""


@dataclass
class RunReport:
    """What the claimer did (for ``intake jobs run-due``, logs and the benchmark)."""

    done: Counter[str] = field(default_factory=Counter)
    deferred: int = 0
    """Waited for the next working morning, or moved to a later due time by the job."""
    failed: int = 0
    messages: int = 0

    @property
    def ran(self) -> int:
        """Actions taken off the queue (done, deferred or rescheduled)."""
        return sum(self.done.values()) + self.deferred

    def add(self, other: RunReport) -> None:
        """Fold another report into this one."""
        self.done.update(other.done)
        self.deferred += other.deferred
        self.failed += other.failed
        self.messages += other.messages


# --- running actions -------------------------------------------------------------------------


async def run_action(ctx: JobContext, action: ScheduledAction) -> str:
    """Run one taken action's job. Returns ``done`` (the caller marks it so), ``deferred``
    (out of office hours) or ``rescheduled`` (the job put it back to wait)."""
    case = await ctx.case(action.case_id)
    if action.kind in WAITS_FOR_OFFICE and ctx.waits_for_office(case):
        ctx.reschedule(
            action,
            ctx.calendar.next_opening(ctx.now),
            "out of office hours: waits for the next working morning",
        )
        return "deferred"
    await HANDLERS[action.kind](ctx, action)
    return "rescheduled" if action.id in ctx.rescheduled else "done"


async def run_due(
    storage: Storage,
    handlers_context: CaseworkContext,
    clock: Clock,
    worker: str,
    limit: int = BATCH,
    *,
    kinds: Collection[str] = OWNED_KINDS,
    report: RunReport | None = None,
) -> int:
    """Claim up to ``limit`` actions due now and run them, in one transaction.

    Args:
        storage: the database.
        handlers_context: policy, calendar, texts and team for the jobs.
        clock: the time now (tests pass a controlled clock).
        worker: this process's name, recorded on claimed rows.
        limit: the batch size.
        kinds: the kinds to claim (default: every kind casework handles).
        report: totals are added here.

    Returns:
        How many actions were taken off the queue (run, deferred or failed).
    """
    report = report if report is not None else RunReport()
    now = clock()
    claimed: list[int] | None = None
    batch = RunReport()
    try:
        async with storage.unit_of_work() as uow:
            actions = await uow.actions.take(now, worker, limit, kinds=kinds)
            claimed = [a.id for a in actions]
            if not actions:
                return 0
            ctx = JobContext(uow, handlers_context, now, worker)
            await ctx.preload(a.case_id for a in actions)
            done: list[int] = []
            # One flush at the end, not one before each query a job makes: the rows a batch
            # changes go in a few bulk statements instead of a few hundred round trips.
            with uow.session.no_autoflush:
                for action in actions:
                    if await run_action(ctx, action) == "done":
                        batch.done[action.kind] += 1
                        done.append(action.id)
                    else:
                        batch.deferred += 1
            batch.messages = ctx.queued_messages
            await ctx.flush()
            await uow.actions.finish_taken(done, now, worker)
        report.add(batch)
        return len(claimed)
    except Exception:
        if not claimed:
            raise  # the claim itself failed (database down): nothing was taken
        log.warning(
            "a batch of %d actions failed; running them one at a time", len(claimed), exc_info=True
        )
    for action_id in claimed:
        await _run_alone(storage, handlers_context, clock, worker, action_id, report)
    return len(claimed)


async def _run_alone(
    storage: Storage,
    context: CaseworkContext,
    clock: Clock,
    worker: str,
    action_id: int,
    report: RunReport,
) -> None:
    now = clock()
    try:
        async with storage.unit_of_work() as uow:
            found = await uow.actions.take(now, worker, 1, ids=[action_id])
            if not found:
                return  # another worker ran it meanwhile
            action = found[0]
            ctx = JobContext(uow, context, now, worker)
            outcome = await run_action(ctx, action)
            messages = ctx.queued_messages
            await ctx.flush()
            if outcome == "done":
                await uow.actions.finish_taken([action_id], now, worker)
        if outcome == "done":
            report.done[action.kind] += 1
        else:
            report.deferred += 1
        report.messages += messages
    except Exception as exc:
        log.exception("scheduled action %s failed", action_id)
        report.failed += 1
        await _record_failure(storage, action_id, now, f"{type(exc).__name__}: {exc}")


def _retry_at(now: datetime) -> Callable[[int], datetime | None]:
    def when(failures: int) -> datetime | None:
        if failures >= MAX_ATTEMPTS:
            return None
        return now + min(FIRST_RETRY * (1 << max(failures - 1, 0)), LONGEST_RETRY)

    return when


async def _record_failure(storage: Storage, action_id: int, now: datetime, error: str) -> None:
    async with storage.unit_of_work() as uow:
        action = await uow.actions.record_failure(action_id, now, error, retry_at=_retry_at(now))
        if action is not None and action.status == "failed" and action.kind != "officer_flag":
            await uow.actions.schedule(
                "officer_flag",
                now,
                case_id=action.case_id,
                dedupe_key=f"action-failed:{action.id}",
                payload={"reason": f"a scheduled {action.kind} failed {action.attempts} times"},
            )


async def drain(
    storage: Storage,
    context: CaseworkContext,
    clock: Clock,
    worker: str,
    *,
    batch: int = BATCH,
    kinds: Collection[str] = OWNED_KINDS,
) -> RunReport:
    """Run everything due now, batch after batch, until a batch comes back short."""
    report = RunReport()
    while True:
        ran = await run_due(storage, context, clock, worker, batch, kinds=kinds, report=report)
        if ran < batch:
            return report
        await asyncio.sleep(0)  # let the rest of the loop breathe between batches


# --- periodic duties ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Duty:
    """A periodic duty as a scheduled-action row: one per day or period, whoever adds it."""

    kind: str
    dedupe_key: str
    payload: dict[str, Any]


def duties_due(context: CaseworkContext, now: datetime) -> list[Duty]:
    """The periodic duties whose time has come today (on a working day, after
    ``policy.alerts.digest_at``): today's officer digest and this period's manager review
    (R-17), until the office closes, and last month's figures (R-16).

    Their dedupe keys name the day or period, so the cron jobs, a restart's catch-up and a
    second process can all ask and each duty still happens once.
    """
    calendar, policy = context.calendar, context.policy
    local = calendar.local(now)
    today = local.date()
    if not calendar.is_working_day(today) or local.time() < policy.alerts.digest_at:
        return []
    duties: list[Duty] = []
    office_day = local.time() < policy.business_hours.closes
    if office_day:
        duties.append(
            Duty("officer_digest", f"officer_digest:{today}", {"date": today.isoformat()})
        )
    period = review_period_start(context, today)
    if office_day and today >= _first_working_day(context, period):
        duties.append(
            Duty("review_digest", f"review_digest:{period}", {"period": period.isoformat()})
        )
    if today >= _first_working_day(context, today.replace(day=1)):
        last_month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        duties.append(
            Duty("monthly_figures", f"monthly_figures:{last_month}", {"month": last_month})
        )
    return duties


def review_period_start(context: CaseworkContext, today: date) -> date:
    """The first day of the review period holding ``today``: fortnights (or whatever
    ``performance.manager_review_every`` says) counted from a Monday, or calendar months."""
    every = context.policy.performance.manager_review_every
    if every.unit is DurationUnit.MONTHS:
        index = (today.year * 12 + today.month - 1) // every.amount * every.amount
        return date(index // 12, index % 12 + 1, 1)
    try:
        days = max(every.as_timedelta().days, 1)
    except ValueError:  # working days: a fortnight is the usual reading
        days = 14
    # date.fromordinal(1) is Monday 1 January of year 1, so periods start on Mondays.
    return date.fromordinal((today.toordinal() - 1) // days * days + 1)


def _first_working_day(context: CaseworkContext, start: date) -> date:
    calendar = context.calendar
    return start if calendar.is_working_day(start) else calendar.next_working_day(start)


async def schedule_duties(
    storage: Storage, context: CaseworkContext, now: datetime, kinds: Iterable[str] | None = None
) -> int:
    """Add today's duty rows (of ``kinds``, or all); returns how many were new."""
    wanted = set(kinds) if kinds is not None else None
    added = 0
    async with storage.unit_of_work() as uow:
        for duty in duties_due(context, now):
            if wanted is None or duty.kind in wanted:
                added += await uow.actions.schedule(
                    duty.kind, now, dedupe_key=duty.dedupe_key, payload=duty.payload
                )
    return added


# --- the scheduler ----------------------------------------------------------------------------


class CaseworkScheduler:
    """Wakes the claimer when actions fall due and runs the fixed periodic duties.

    Args:
        storage: the database.
        context: what the jobs need.
        worker: this process's name (host:pid), recorded on claimed rows.
        clock: the time now.
        scheduler: the process's AsyncIOScheduler (the runner's); one is made if None.
        batch: actions per transaction.
        safety_interval: seconds between safety-net wake-ups, in case a wake-up is missed
            (another process scheduled something, the clock jumped).
    """

    WAKE_JOB = "casework-wake"
    SAFETY_JOB = "casework-safety-net"
    DUTY_JOBS: ClassVar[dict[str, str]] = {
        "casework-daily-digest": "officer_digest",
        "casework-fortnightly-review": "review_digest",
        "casework-monthly-figures": "monthly_figures",
    }

    def __init__(
        self,
        storage: Storage,
        context: CaseworkContext,
        *,
        worker: str,
        clock: Clock | None = None,
        scheduler: AsyncIOScheduler | None = None,
        batch: int = BATCH,
        safety_interval: float = 30.0,
    ) -> None:
        self.storage = storage
        self.context = context
        self.worker = worker
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.scheduler = scheduler or AsyncIOScheduler(timezone=context.policy.timezone)
        self._owns_scheduler = scheduler is None
        self.batch = batch
        self.safety_interval = safety_interval
        self.report = RunReport()
        self.next_wake: datetime | None = None
        """When the wake-up job is armed for (the next due action), if any."""
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle --------------------------------------------------------------------------

    def attach(self) -> None:
        """Add the fixed jobs to the APScheduler (call before or after it starts)."""
        policy = self.context.policy
        hours = policy.business_hours
        at = policy.alerts.digest_at
        common: dict[str, Any] = {"coalesce": True, "max_instances": 1, "replace_existing": True}
        self.scheduler.add_job(
            self._kick,
            IntervalTrigger(seconds=self.safety_interval, timezone=policy.timezone),
            id=self.SAFETY_JOB,
            misfire_grace_time=None,
            **common,
        )
        for job_id, kind in self.DUTY_JOBS.items():
            self.scheduler.add_job(
                self._duty,
                CronTrigger(
                    day_of_week=",".join(hours.days),
                    hour=at.hour,
                    minute=at.minute,
                    timezone=policy.timezone,
                ),
                args=[kind],
                id=job_id,
                misfire_grace_time=3600,
                **common,
            )

    async def start(self) -> None:
        """Attach the jobs, start the claimer, catch up on duties missed while down, and run
        whatever fell due meanwhile (once: each action is one row)."""
        self.attach()
        if self._owns_scheduler and not self.scheduler.running:
            self.scheduler.start()
        self._stopping = False
        self._task = asyncio.create_task(self._claimer(), name="casework-claimer")
        try:
            await schedule_duties(self.storage, self.context, self.clock())
        except Exception:
            log.exception("could not catch up on periodic duties; the cron jobs will retry")
        self.wake()

    async def stop(self) -> None:
        """Stop claiming; a batch in flight finishes (or rolls back) first."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        for job_id in (self.WAKE_JOB, self.SAFETY_JOB, *self.DUTY_JOBS):
            with contextlib.suppress(Exception):
                self.scheduler.remove_job(job_id)
        if self._owns_scheduler and self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def wake(self) -> None:
        """Run the claimer now: call after scheduling something due soon (a P1 alert)."""
        self._wake.set()

    # --- work -------------------------------------------------------------------------------

    async def run_pending(self) -> RunReport:
        """Run everything due now, then arm the wake-up for the next due action."""
        report = RunReport()
        async with self._lock:
            while True:
                ran = await drain(
                    self.storage, self.context, self.clock, self.worker, batch=self.batch
                )
                report.add(ran)
                upcoming = await self._next_due()
                if upcoming is None or upcoming > self.clock():
                    break
                if not ran.ran and not ran.failed:
                    # Due, yet nothing could be claimed: another process holds those rows in
                    # its batch. Look again shortly rather than spin on the database.
                    upcoming = self.clock() + HELD_ELSEWHERE_RETRY
                    break
            self.report.add(report)
            self._arm(upcoming)
        if report.ran or report.failed:
            log.info(
                "casework: %d done (%s), %d deferred, %d failed, %d messages queued",
                sum(report.done.values()),
                ", ".join(f"{k} {n}" for k, n in sorted(report.done.items())) or "-",
                report.deferred,
                report.failed,
                report.messages,
            )
        return report

    async def _next_due(self) -> datetime | None:
        async with self.storage.session() as session:
            return await ActionRepository(session).next_due_at(kinds=OWNED_KINDS)

    def _arm(self, upcoming: datetime | None) -> None:
        self.next_wake = upcoming
        if upcoming is None:
            with contextlib.suppress(Exception):
                self.scheduler.remove_job(self.WAKE_JOB)
            return
        self.scheduler.add_job(
            self._kick,
            DateTrigger(run_date=upcoming),
            id=self.WAKE_JOB,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )

    async def _claimer(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            if self._stopping:
                break
            try:
                await self.run_pending()
            except Exception:  # the database may be away: the safety net tries again
                log.exception("casework claimer round failed; will retry")

    async def _kick(self) -> None:
        # APScheduler runs coroutine jobs on the loop; this only signals the claimer task, so
        # a long batch never makes APScheduler skip a wake-up as "already running".
        self.wake()

    async def _duty(self, kind: str) -> None:
        try:
            if await schedule_duties(self.storage, self.context, self.clock(), [kind]):
                self.wake()
        except Exception:
            log.exception("could not schedule the %s duty", kind)
