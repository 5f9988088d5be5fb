"""Casework fixtures: a clock the test moves, a team with an on-call officer, a manager and a
caretaker, and cases created with the follow-ups intake plans for them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from casework.context import CaseworkContext, context_from_settings
from casework.plan import CaseFacts, plan_follow_ups
from casework.scheduler import OWNED_KINDS, RunReport, drain
from intake.bootstrap import sync_team
from intake.settings import Settings, TeamSettings, load_settings
from storage.models import (
    AuditEvent,
    Case,
    ChannelIdentity,
    Incident,
    OutboxMessage,
    Person,
    ScheduledAction,
)
from storage.uow import Storage
from tests.conftest import REPO
from triage.calendar import WorkingCalendar
from triage.taxonomy import Category, Priority

LONDON = ZoneInfo("Europe/London")
FRIDAY_BEFORE_BANK_HOLIDAY = datetime(2026, 8, 28, 16, 0, tzinfo=LONDON)
"""Friday 28 August 2026, 16:00; Monday 31 August is the summer bank holiday in England."""

TEAM = {
    "areas": [
        {"code": "north", "name": "North estates", "postcodes": ["DH1", "DH2"]},
        {"code": "south", "name": "South estates", "postcodes": ["DH6", "DH7"]},
    ],
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
            "id": "ben",
            "name": "Ben Walsh",
            "role": "officer",
            "areas": ["south"],
            "alert_by": "sms",
            "phone": "+447700900002",
        },
        {
            "id": "olu",
            "name": "Olu Adeyemi",
            "role": "officer",
            "areas": ["south"],
            "alert_by": "telegram",
            "telegram_chat_id": 5550001,
        },
        {
            "id": "chloe",
            "name": "Chloe Patel",
            "role": "manager",
            "areas": ["north", "south"],
            "alert_by": "email",
            "email": "chloe@example.org",
        },
        {
            "id": "dan",
            "name": "Dan Hughes",
            "role": "caretaker",
            "areas": ["north"],
            "alert_by": "email",
            "email": "caretaking@example.org",
        },
    ],
    "on_call": "olu",
    "manager": "chloe",
    "caretaking_email": "caretaking@example.org",
}


class Clock:
    """The time now, moved by the test (nothing sleeps)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    loaded = load_settings(
        REPO / "config.yaml", {"INTAKE_SERVICE__DATA_DIR": str(tmp_path / "var")}
    )
    return loaded.model_copy(update={"team": TeamSettings.model_validate(TEAM)})


@pytest.fixture
def casework(settings: Settings) -> CaseworkContext:
    return context_from_settings(settings, secret="test-secret-key")


@pytest.fixture
def clock() -> Clock:
    return Clock(FRIDAY_BEFORE_BANK_HOLIDAY)


@pytest.fixture
async def team_storage(storage: Storage, settings: Settings) -> Storage:
    """Storage with the test team mirrored into the officers table."""
    await sync_team(storage, settings.team)
    return storage


@dataclass
class Reporter:
    """A reporter and the identities they can be reached on."""

    person_id: int
    identity_ids: list[int]


async def add_reporter(
    storage: Storage,
    identities: Sequence[tuple[str, str]] = (("sms", "+447700900123"),),
    *,
    opted_out_at: datetime | None = None,
) -> Reporter:
    """A person reachable on ``identities`` (channel, address); the first opted out if asked."""
    async with storage.unit_of_work() as uow:
        person = Person(name="Sam Jones")
        uow.session.add(person)
        await uow.session.flush()
        ids = []
        for index, (channel, address) in enumerate(identities):
            identity = ChannelIdentity(
                person_id=person.id,
                channel=channel,
                address=address,
                opted_out_at=opted_out_at if index == 0 else None,
            )
            uow.session.add(identity)
            await uow.session.flush()
            ids.append(identity.id)
    return Reporter(person.id, ids)


async def open_case(
    storage: Storage,
    casework: CaseworkContext,
    now: datetime,
    *,
    reporter: Reporter | None = None,
    priority: str = "P1",
    category: str = "hate_incident",
    hate: bool | None = None,
    officer_id: str | None = "amara",
    anonymous: bool = False,
    alert: str | None = None,
    offensive_graffiti: bool | None = None,
    update_every_days: int | None = None,
    **fields: Any,
) -> Case:
    """A submitted case with the follow-ups intake plans (``casework.plan``), as intake writes
    them; ``alert`` also schedules an immediate officer alert with that reason."""
    calendar: WorkingCalendar = casework.calendar
    policy = casework.policy
    is_hate = category == "hate_incident" if hate is None else hate
    deadline = calendar.deadline(now, policy.priorities[Priority(priority)].first_contact)
    graffiti_due = None
    if offensive_graffiti is not None:
        rule = policy.graffiti.offensive if offensive_graffiti else policy.graffiti.other
        graffiti_due = calendar.deadline(now, rule)
    async with storage.unit_of_work() as uow:
        case = Case(
            reference=await uow.cases.next_reference(calendar.local(now).year),
            status="open",
            priority=priority,
            category=category,
            categories=[category],
            hate=is_hate,
            anonymous=anonymous,
            reporter_id=reporter.person_id if reporter and not anonymous else None,
            reporter_identity_id=reporter.identity_ids[0] if reporter else None,
            officer_id=officer_id,
            received_at=now,
            created_at=now,
            updated_at=now,
            deadline_at=deadline,
            update_every_days=update_every_days,
            area_code="north",
            location="Elm Court stairwell, DH1",
            summary="what happened",
            **fields,
        )
        await uow.cases.add(case)
        await uow.cases.add_incident(
            Incident(case_id=case.id, reported_at=now, description="first report")
        )
        if alert:
            await uow.actions.schedule(
                "alert_officer",
                now,
                case_id=case.id,
                dedupe_key=f"{case.reference}:alert:{alert}",
                payload={"reason": alert},
            )
        facts = CaseFacts(
            reference=case.reference,
            priority=Priority(priority),
            category=Category(category),
            received_at=now,
            deadline_at=deadline,
            hate=is_hate,
            anonymous=anonymous,
            graffiti_due_at=graffiti_due,
            offensive_graffiti=offensive_graffiti,
            update_every_days=update_every_days,
        )
        for planned in plan_follow_ups(facts, policy, calendar, now):
            await uow.actions.schedule(
                planned.kind,
                planned.due_at,
                case_id=case.id,
                dedupe_key=planned.dedupe_key,
                payload=planned.payload,
            )
    return case


async def run(storage: Storage, casework: CaseworkContext, clock: Clock) -> RunReport:
    """Run everything due at the clock's time."""
    return await drain(storage, casework, clock, "test-worker")


async def messages(storage: Storage, *, since_id: int = 0) -> list[OutboxMessage]:
    """Casework's outbox rows (not intake's replies), oldest first."""
    async with storage.session() as session:
        result = await session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.id > since_id, ~OutboxMessage.idempotency_key.like("reply:%"))
            .order_by(OutboxMessage.id)
        )
        return list(result.scalars())


async def actions(storage: Storage, *, status: str | None = "pending") -> list[ScheduledAction]:
    """Casework's scheduled actions (pending by default), soonest first."""
    query = (
        select(ScheduledAction)
        .where(ScheduledAction.kind.in_(sorted(OWNED_KINDS)))
        .order_by(ScheduledAction.due_at, ScheduledAction.id)
    )
    if status is not None:
        query = query.where(ScheduledAction.status == status)
    async with storage.session() as session:
        return list((await session.execute(query)).scalars())


async def audit_actions(storage: Storage, case_id: int | None = None) -> list[str]:
    """The audit trail's action names, oldest first."""
    query = select(AuditEvent.action).order_by(AuditEvent.id)
    if case_id is not None:
        query = query.where(AuditEvent.case_id == case_id)
    async with storage.session() as session:
        return list((await session.execute(query)).scalars())


async def reload(storage: Storage, case_id: int) -> Case:
    async with storage.session() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        return case


def who(message: OutboxMessage) -> str:
    """Who a message is for: an officer id, or channel:address."""
    return message.officer_id or f"{message.channel}:{message.recipient}"
