"""The repositories keep the promises the rest of the service relies on: nothing lost, nothing
processed twice, references unique, one active advocate, follow-ups claimed exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from storage.models import (
    Advocacy,
    Case,
    InboundMessage,
    Incident,
    OutboxMessage,
    Person,
    ScheduledAction,
)
from storage.uow import Storage

NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


async def _new_case(storage: Storage, **fields: object) -> Case:
    async with storage.unit_of_work() as uow:
        reference = await uow.cases.next_reference(2026)
        case = Case(
            reference=reference,
            priority="P1",
            category="hate_incident",
            hate=True,
            received_at=NOW,
            **fields,
        )
        await uow.cases.add(case)
    return case


async def test_references_are_sequential_per_year(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        first = await uow.cases.next_reference(2026)
        second = await uow.cases.next_reference(2026)
        other_year = await uow.cases.next_reference(2027)
    assert (first, second, other_year) == ("ASB-2026-000001", "ASB-2026-000002", "ASB-2027-000001")


async def test_concurrent_references_never_collide(storage: Storage) -> None:
    async def one() -> str:
        async with storage.unit_of_work() as uow:
            return await uow.cases.next_reference(2026)

    references = await asyncio.gather(*(one() for _ in range(25)))
    assert len(set(references)) == 25


async def test_a_rolled_back_unit_of_work_leaves_nothing(storage: Storage) -> None:
    with pytest.raises(RuntimeError):
        async with storage.unit_of_work() as uow:
            await uow.cases.add(
                Case(reference="ASB-2026-999999", priority="P2", category="noise", received_at=NOW)
            )
            raise RuntimeError("the step failed")
    async with storage.unit_of_work() as uow:
        assert await uow.cases.by_reference("ASB-2026-999999") is None


async def test_inbound_messages_are_stored_once_per_channel_and_external_id(
    storage: Storage,
) -> None:
    async with storage.unit_of_work() as uow:
        first = await uow.inbound.record("sms", "SM123", b"Body=help", sender="+447700900123")
        again = await uow.inbound.record("sms", "SM123", b"Body=help", sender="+447700900123")
        other_channel = await uow.inbound.record("telegram", "SM123", b"{}")
    assert first.first_delivery and not again.first_delivery and other_channel.first_delivery
    assert again.id == first.id and other_channel.id != first.id
    async with storage.session() as session:
        stored = await session.get(InboundMessage, first.id)
    assert (
        stored is not None and stored.payload == b"Body=help" and stored.sender == "+447700900123"
    )


async def test_concurrent_redeliveries_create_one_row(storage: Storage) -> None:
    async def deliver() -> bool:
        async with storage.unit_of_work() as uow:
            return (await uow.inbound.record("email", "<abc@example.org>", b"raw")).first_delivery

    firsts = await asyncio.gather(*(deliver() for _ in range(30)))
    assert firsts.count(True) == 1
    async with storage.session() as session:
        count = await session.scalar(select(func.count(InboundMessage.id)))
    assert count == 1


async def test_one_person_on_several_channels(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        sms = await uow.people.identity("sms", "+447700900123")
        email = await uow.people.identity("email", "tenant@example.org")
        await uow.people.link(email, sms.person_id)
        same = await uow.people.identity("sms", "+447700900123")
        reachable = await uow.people.identities_of(sms.person_id)
    assert same.id == sms.id
    assert {(i.channel, i.address) for i in reachable} == {
        ("sms", "+447700900123"),
        ("email", "tenant@example.org"),
    }


async def test_case_with_incidents_keeps_order_and_aware_times(storage: Storage) -> None:
    case = await _new_case(
        storage, deadline_at=datetime(2026, 11, 23, 17, tzinfo=ZoneInfo("Europe/London"))
    )
    async with storage.unit_of_work() as uow:
        for hours, text in [(2, "second"), (1, "first")]:
            await uow.cases.add_incident(
                Incident(
                    case_id=case.id, description=text, reported_at=NOW + timedelta(hours=hours)
                )
            )
    async with storage.unit_of_work() as uow:
        loaded = await uow.cases.by_reference(case.reference.lower())
        assert loaded is not None
        assert loaded.deadline_at == datetime(2026, 11, 23, 17, tzinfo=UTC)
        assert loaded.deadline_at.tzinfo is not None
        assert await uow.cases.incidents_since(case.id, NOW) == 2
        incidents = (
            (
                await uow.session.execute(
                    select(Incident.description)
                    .where(Incident.case_id == case.id)
                    .order_by(Incident.reported_at)
                )
            )
            .scalars()
            .all()
        )
    assert list(incidents) == ["first", "second"]


async def test_naive_datetimes_are_refused(storage: Storage) -> None:
    with pytest.raises(Exception, match="time zone"):
        async with storage.unit_of_work() as uow:
            await uow.cases.add(
                Case(
                    reference="ASB-2026-000500",
                    priority="P2",
                    category="noise",
                    received_at=datetime(2026, 11, 20),
                )
            )


async def test_only_one_active_advocate_per_case(storage: Storage) -> None:
    case = await _new_case(storage)
    async with storage.unit_of_work() as uow:
        first, second = Person(name="Support worker"), Person(name="Cousin")
        uow.session.add_all([first, second])
        await uow.session.flush()
        uow.session.add(Advocacy(case_id=case.id, advocate_id=first.id, organisation="Shelter"))
        first_id, second_id = first.id, second.id
    with pytest.raises(IntegrityError):
        async with storage.unit_of_work() as uow:
            uow.session.add(Advocacy(case_id=case.id, advocate_id=second_id))
            await uow.session.flush()
    async with storage.unit_of_work() as uow:
        active = (
            await uow.session.execute(
                select(Advocacy).where(Advocacy.case_id == case.id, Advocacy.ended_at.is_(None))
            )
        ).scalar_one()
        assert active.advocate_id == first_id
        active.ended_at, active.ended_by = NOW, "tenant"
        await uow.session.flush()
        uow.session.add(Advocacy(case_id=case.id, advocate_id=second_id))


async def test_outbox_idempotency_key_queues_once(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        queued = [
            await uow.outbox.enqueue(
                OutboxMessage(
                    idempotency_key="ack:ASB-2026-000001",
                    channel="sms",
                    recipient="+447700900123",
                    body="Thank you",
                    next_attempt_at=NOW,
                )
            )
            for _ in range(3)
        ]
    assert queued == [True, False, False]
    async with storage.unit_of_work() as uow:
        claimed = await uow.outbox.claim(NOW, "worker-a")
        assert [m.status for m in claimed] == ["sending"]
        assert await uow.outbox.claim(NOW, "worker-b") == []


async def test_scheduling_with_a_dedupe_key_is_idempotent(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        results = [
            await uow.actions.schedule(
                "first_contact_deadline", NOW, dedupe_key="case:1:first_contact"
            )
            for _ in range(2)
        ]
        await uow.actions.schedule("survey", NOW + timedelta(days=7))
        assert await uow.actions.next_due_at() == NOW
    assert results == [True, False]


async def test_due_actions_are_claimed_exactly_once_by_competing_workers(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        for i in range(300):
            await uow.actions.schedule(
                "reminder", NOW - timedelta(seconds=i), dedupe_key=f"reminder:{i}"
            )
        await uow.actions.schedule("later", NOW + timedelta(hours=1))

    claimed: list[int] = []

    async def worker(name: str) -> None:
        while True:
            async with storage.unit_of_work() as uow:
                batch = await uow.actions.claim_due(NOW, name, limit=17)
                claimed.extend(a.id for a in batch)
            if not batch:
                return

    await asyncio.gather(worker("a"), worker("b"), worker("c"))
    assert len(claimed) == len(set(claimed)) == 300
    async with storage.session() as session:
        later = (
            await session.execute(select(ScheduledAction).where(ScheduledAction.kind == "later"))
        ).scalar_one()
    assert later.status == "pending"


async def test_claims_come_back_oldest_due_first(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        for minutes in (5, 1, 3):
            await uow.actions.schedule(f"m{minutes}", NOW - timedelta(minutes=minutes))
    async with storage.unit_of_work() as uow:
        batch = await uow.actions.claim_due(NOW, "w")
    assert [a.kind for a in batch] == ["m5", "m3", "m1"]
    assert all(a.attempts == 1 and a.claimed_by == "w" for a in batch)


async def test_audit_events_are_kept_in_order(storage: Storage) -> None:
    case = await _new_case(storage)
    async with storage.unit_of_work() as uow:
        await uow.audit.record("officer:amara", "case.viewed", case_id=case.id)
        await uow.audit.record(
            "officer:amara",
            "case.priority_changed",
            case_id=case.id,
            detail={"from": "P2", "to": "P1"},
        )
    async with storage.unit_of_work() as uow:
        events = await uow.audit.for_case(case.id)
    assert [e.action for e in events] == ["case.viewed", "case.priority_changed"]
    assert events[1].detail == {"from": "P2", "to": "P1"}
