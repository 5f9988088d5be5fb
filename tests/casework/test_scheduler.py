"""The claimer and its scheduler: a backlog after downtime drains exactly once, two claimers on
one database never run an action twice, a crash loses nothing, one failing job never holds up
the rest, intake's kinds are left alone, and APScheduler only wakes the claimer and runs the
fixed duties (DESIGN.md: scheduled work is data)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select

from casework.context import CaseworkContext, JobContext
from casework.jobs import HANDLERS
from casework.scheduler import (
    MAX_ATTEMPTS,
    OWNED_KINDS,
    CaseworkScheduler,
    drain,
    duties_due,
    schedule_duties,
)
from storage.models import AuditEvent, OutboxMessage, ScheduledAction
from storage.uow import Storage
from tests.casework.conftest import LONDON, Clock, actions, messages, open_case, run


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON)


KINDS = ("first_contact_reminder", "officer_flag", "callback_request")
"""Kinds that send exactly one message each for an open P1 case in office hours."""


async def overdue_backlog(
    storage: Storage, casework: CaseworkContext, now: datetime, count: int, cases: int = 50
) -> list[int]:
    """``count`` actions that fell due over the three days before ``now``."""
    case_ids = [
        (await open_case(storage, casework, now - timedelta(days=3))).id for _ in range(cases)
    ]
    async with storage.unit_of_work() as uow:
        await uow.session.execute(
            ScheduledAction.__table__.delete().where(ScheduledAction.case_id.in_(case_ids))
        )
        await uow.actions.schedule_many(
            [
                {
                    "kind": KINDS[n % len(KINDS)],
                    "due_at": now - timedelta(days=3) + timedelta(seconds=n * 25),
                    "case_id": case_ids[n % cases],
                    "dedupe_key": f"backlog:{n}",
                    "payload": {"reason": f"flag {n}", "number": "+447700900123"},
                    "created_at": now - timedelta(days=3),
                }
                for n in range(count)
            ]
        )
    return case_ids


async def outbox_keys_by_action(storage: Storage) -> Counter[int]:
    async with storage.session() as session:
        keys = (await session.execute(select(OutboxMessage.idempotency_key))).scalars()
        return Counter(int(key.split(":")[1]) for key in keys if key.startswith("casework:"))


async def test_a_backlog_of_10000_overdue_actions_drains_exactly_once(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    clock.set(at(9, 2, 10))
    await overdue_backlog(team_storage, casework, clock(), 10_000)
    report = await drain(team_storage, casework, clock, "restarted")
    again = await drain(team_storage, casework, clock, "restarted")
    assert (sum(report.done.values()), report.failed, again.ran) == (10_000, 0, 0)
    async with team_storage.session() as session:
        rows = (
            await session.execute(
                select(ScheduledAction.status, ScheduledAction.attempts, func.count())
                .where(ScheduledAction.dedupe_key.like("backlog:%"))
                .group_by(ScheduledAction.status, ScheduledAction.attempts)
            )
        ).all()
    assert [tuple(r) for r in rows] == [("done", 1, 10_000)]
    per_action = await outbox_keys_by_action(team_storage)
    assert len(per_action) == 10_000 and set(per_action.values()) == {1}


async def test_two_claimers_on_one_database_run_every_action_exactly_once(
    team_storage: Storage, database_url: str, casework: CaseworkContext, clock: Clock
) -> None:
    clock.set(at(9, 2, 10))
    await overdue_backlog(team_storage, casework, clock(), 3_000, cases=30)
    other = Storage.from_url(database_url)  # a second process: its own engine and connections
    try:
        first, second = await asyncio.gather(
            drain(team_storage, casework, clock, "serve-1", batch=50),
            drain(other, casework, clock, "serve-2", batch=50),
        )
    finally:
        await other.close()
    assert sum(first.done.values()) + sum(second.done.values()) == 3_000
    assert first.failed == second.failed == 0
    async with team_storage.session() as session:
        by_worker = dict(
            (
                await session.execute(
                    select(ScheduledAction.claimed_by, func.count())
                    .where(ScheduledAction.dedupe_key.like("backlog:%"))
                    .group_by(ScheduledAction.claimed_by)
                )
            ).all()
        )
        attempts = set(
            (
                await session.execute(
                    select(ScheduledAction.attempts).where(
                        ScheduledAction.dedupe_key.like("backlog:%")
                    )
                )
            ).scalars()
        )
    assert set(by_worker) == {"serve-1", "serve-2"} and sum(by_worker.values()) == 3_000
    assert attempts == {1}
    per_action = await outbox_keys_by_action(team_storage)
    assert len(per_action) == 3_000 and set(per_action.values()) == {1}


async def test_a_process_that_dies_mid_batch_loses_nothing(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    await open_case(team_storage, casework, clock(), alert="hate")
    with pytest.raises(RuntimeError):
        async with team_storage.unit_of_work() as uow:
            claimed = await uow.actions.claim_due(clock(), "dying", 100, kinds=OWNED_KINDS)
            assert [a.kind for a in claimed] == ["alert_officer"]
            ctx = JobContext(uow, casework, clock())
            await HANDLERS["alert_officer"](ctx, claimed[0])
            await ctx.flush()
            raise RuntimeError("killed before commit")
    assert await messages(team_storage) == []
    assert [a.kind for a in await actions(team_storage) if a.due_at <= clock()] == ["alert_officer"]
    await run(team_storage, casework, clock)
    assert [m.officer_id for m in await messages(team_storage)] == ["amara"]


async def test_one_failing_job_never_holds_up_the_others_and_is_flagged_after_retries(
    team_storage: Storage,
    casework: CaseworkContext,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = HANDLERS["callback_request"]

    async def flaky(ctx: JobContext, action: ScheduledAction) -> None:
        if action.payload.get("boom"):
            raise RuntimeError("the job has a bug")
        await original(ctx, action)

    monkeypatch.setitem(HANDLERS, "callback_request", flaky)
    case = await open_case(team_storage, casework, clock())
    async with team_storage.unit_of_work() as uow:
        for n in range(5):
            await uow.actions.schedule(
                "callback_request",
                clock(),
                case_id=case.id,
                dedupe_key=f"callback:{n}",
                payload={"number": f"+4477009001{n:02d}", "boom": n == 2},
            )
    report = await run(team_storage, casework, clock)
    assert (report.done["callback_request"], report.failed) == (4, 1)
    [bad] = [a for a in await actions(team_storage) if a.kind == "callback_request"]
    assert (bad.attempts, bad.due_at) == (1, clock() + timedelta(minutes=1))
    assert bad.last_error == "RuntimeError: the job has a bug"
    for minutes in (1, 2, 4, 8):
        clock.advance(timedelta(minutes=minutes))
        await run(team_storage, casework, clock)
    async with team_storage.session() as session:
        failed = await session.get(ScheduledAction, bad.id)
        assert failed is not None and (failed.status, failed.attempts) == ("failed", MAX_ATTEMPTS)
    await run(team_storage, casework, clock)
    assert (await messages(team_storage))[-1].body == (
        "Please look at this (ASB-2026-000001): a scheduled callback_request failed 5 times."
    )


async def test_intakes_conversation_idle_actions_are_left_alone(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    async with team_storage.unit_of_work() as uow:
        await uow.actions.schedule(
            "conversation_idle",
            clock() - timedelta(hours=1),
            dedupe_key="idle:1:1",
            payload={"conversation_id": 1, "version": 1},
        )
        await uow.actions.schedule("officer_flag", clock(), dedupe_key="flag", payload={})
    report = await run(team_storage, casework, clock)
    assert report.done == Counter({"officer_flag": 1})
    async with team_storage.session() as session:
        idle = (
            await session.execute(
                select(ScheduledAction).where(ScheduledAction.kind == "conversation_idle")
            )
        ).scalar_one()
    assert (idle.status, idle.attempts, idle.claimed_by) == ("pending", 0, None)
    async with team_storage.unit_of_work() as uow:
        assert [a.kind for a in await uow.actions.claim_due(clock(), "x")] == [
            "conversation_idle"
        ]  # without kinds, claim_due still takes every kind


# --- periodic duties (R-16, R-17) ------------------------------------------------------------------


def test_duties_fall_on_working_days_after_the_digest_time(casework: CaseworkContext) -> None:
    assert duties_due(casework, at(8, 31, 8)) == []  # the bank holiday
    assert duties_due(casework, at(9, 1, 7, 59)) == []
    assert [(d.kind, d.dedupe_key) for d in duties_due(casework, at(9, 1, 8))] == [
        ("officer_digest", "officer_digest:2026-09-01"),
        ("review_digest", "review_digest:2026-08-31"),
        ("monthly_figures", "monthly_figures:2026-08"),
    ]
    assert [d.dedupe_key for d in duties_due(casework, at(9, 14, 8))] == [
        "officer_digest:2026-09-14",
        "review_digest:2026-09-14",
        "monthly_figures:2026-08",
    ]
    assert [d.kind for d in duties_due(casework, at(9, 14, 18))] == [
        "monthly_figures",
    ]  # after closing: the digest and the review wait for a working morning


async def test_each_duty_runs_once_a_period_however_many_processes_ask(
    team_storage: Storage, database_url: str, casework: CaseworkContext, clock: Clock
) -> None:
    case = await open_case(team_storage, casework, clock())
    clock.set(at(9, 1, 8))
    other = Storage.from_url(database_url)
    try:
        added = [
            await schedule_duties(team_storage, casework, clock()),
            await schedule_duties(other, casework, clock()),
            await schedule_duties(team_storage, casework, at(9, 1, 12)),
        ]
    finally:
        await other.close()
    assert added == [3, 0, 0]
    await run(team_storage, casework, clock)
    sent = await messages(team_storage)
    digest = next(m for m in sent if m.officer_id == "amara" and "Good morning" in m.body)
    assert digest.body.splitlines() == [
        "Good morning Amara Okafor. 1 open cases. Today, Tuesday 1 September:",
        "- ASB-2026-000001 P1: first contact due Tue 1 Sep 17:00",
        "- ASB-2026-000001 P1: alert not acknowledged",
    ]
    review = next(m for m in sent if m.officer_id == "chloe")
    assert review.body.splitlines()[0] == (
        "Fortnightly case review, Tuesday 1 September: 1 open cases (1 hate, 1 P1), 0 with an "
        "ASB Case Review flag."
    )
    async with team_storage.session() as session:
        figures = (
            await session.execute(
                select(AuditEvent.detail).where(AuditEvent.action == "figures.monthly")
            )
        ).scalar_one()
    assert figures == {
        "month": "2026-08",
        "cases": 1,
        "hate_cases": 1,
        "cases_per_1000_homes": 0.08,
        "hate_cases_per_1000_homes": 0.08,
        "first_contact_on_time": 0,
        "first_contact_due": 1,
    }
    assert case.reference == "ASB-2026-000001"


# --- the APScheduler wiring ----------------------------------------------------------------------


@pytest.fixture
async def paused() -> Any:
    scheduler = AsyncIOScheduler(timezone="Europe/London")
    scheduler.start(paused=True)
    yield scheduler
    scheduler.shutdown(wait=False)


async def test_apscheduler_holds_only_the_fixed_jobs_and_a_wake_up_at_the_next_due_time(
    team_storage: Storage, casework: CaseworkContext, clock: Clock, paused: AsyncIOScheduler
) -> None:
    await open_case(team_storage, casework, clock(), alert="hate")
    casework_scheduler = CaseworkScheduler(
        team_storage, casework, worker="serve-1", clock=clock, scheduler=paused
    )
    casework_scheduler.attach()
    jobs = {job.id: job for job in paused.get_jobs()}
    assert set(jobs) == {
        "casework-safety-net",
        "casework-daily-digest",
        "casework-fortnightly-review",
        "casework-monthly-figures",
    }
    safety = jobs["casework-safety-net"]
    assert isinstance(safety.trigger, IntervalTrigger)
    assert safety.trigger.interval == timedelta(seconds=30)
    assert (safety.coalesce, safety.max_instances) == (True, 1)
    digest = jobs["casework-daily-digest"].trigger
    assert digest.get_next_fire_time(None, at(8, 28, 16)) == at(8, 31, 8)
    assert digest.get_next_fire_time(None, at(8, 31, 8, 1)) == at(9, 1, 8)

    report = await casework_scheduler.run_pending()
    assert report.done == Counter({"alert_officer": 1})
    wake = paused.get_job("casework-wake")
    assert isinstance(wake.trigger, DateTrigger)
    assert wake.trigger.run_date == at(8, 28, 16, 15)  # the alert's second route
    assert casework_scheduler.next_wake == at(8, 28, 16, 15)
    assert (wake.coalesce, wake.max_instances, wake.misfire_grace_time) == (True, 1, None)

    clock.set(at(8, 28, 16, 15))
    await casework_scheduler.run_pending()
    assert paused.get_job("casework-wake").trigger.run_date == at(8, 28, 16, 30)


async def test_start_catches_up_on_duties_and_runs_what_fell_due_while_down(
    team_storage: Storage, casework: CaseworkContext, clock: Clock, paused: AsyncIOScheduler
) -> None:
    await open_case(team_storage, casework, clock(), alert="hate")
    clock.set(at(9, 1, 10))  # down from Friday 15:00 until Tuesday 10:00
    casework_scheduler = CaseworkScheduler(
        team_storage, casework, worker="serve-1", clock=clock, scheduler=paused
    )
    await casework_scheduler.start()
    await casework_scheduler.run_pending()
    await casework_scheduler.stop()
    assert not [job for job in paused.get_jobs() if job.id.startswith("casework-")]
    done = Counter(a.kind for a in await actions(team_storage, status="done"))
    assert done == Counter(
        {
            "alert_officer": 1,
            "officer_digest": 1,
            "review_digest": 1,
            "monthly_figures": 1,
        }
    )
    assert [a.kind for a in await actions(team_storage) if a.due_at <= clock()] == []
    [second] = [a for a in await actions(team_storage) if a.kind == "alert_second_route"]
    assert second.due_at == at(9, 1, 10, 15)  # from when the alert went, not when it was due


async def test_actions_another_process_holds_are_looked_at_again_shortly_not_spun_on(
    team_storage: Storage,
    database_url: str,
    casework: CaseworkContext,
    clock: Clock,
    paused: AsyncIOScheduler,
) -> None:
    if team_storage.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: a second claimer waits instead of skipping rows")
    await open_case(team_storage, casework, clock(), alert="hate")
    casework_scheduler = CaseworkScheduler(
        team_storage, casework, worker="serve-1", clock=clock, scheduler=paused
    )
    other = Storage.from_url(database_url)
    try:
        async with other.unit_of_work() as uow:
            held = await uow.actions.claim_due(clock(), "serve-2", 10, kinds=OWNED_KINDS)
            assert [a.kind for a in held] == ["alert_officer"]
            report = await casework_scheduler.run_pending()
            assert report.ran == 0
            assert casework_scheduler.next_wake == clock() + timedelta(milliseconds=250)
            await uow.rollback()  # serve-2 dies: the row is free again
    finally:
        await other.close()
    report = await casework_scheduler.run_pending()
    assert report.done == Counter({"alert_officer": 1})
