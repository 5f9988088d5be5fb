"""A P1 hate report on the Friday before the August bank holiday, at 16:00, taken through the
real intake conversation; then the clock is moved through every follow-up (R-02, R-04, R-09,
R-13, R-17). Every alert, reminder, deadline and escalation lands at its exact time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from casework.context import CaseworkContext
from casework.officer_replies import find_officer, handle_officer_reply
from intake.bootstrap import build_case_rules
from intake.messages import Channel, InboundMessage
from intake.service import IntakeService
from intake.settings import Settings
from storage.models import Case
from storage.uow import Storage
from tests.casework.conftest import (
    LONDON,
    Clock,
    actions,
    audit_actions,
    messages,
    reload,
    run,
    who,
)

ANSWERS = {
    "category": "1",
    "danger": "no",
    "for_whom": "myself",
    "when": "last night",
    "how_often": "2",
    "still_happening": "yes",
    "where": "Elm Court stairwell, DH1",
    "who": "1",
    "evidence": "later",
    "hate": "yes",
    "hate_kind": "1",
    "risk": "0",
    "share_consent": "yes",
    "anonymous": "1",
    "reporter_name": "Sam Jones",
    "reporter_address": "12 Elm Court DH1 3AB",
    "contact_method": "1",
    "safe_messages": "yes",
    "update_frequency": "3",
    "support": "no",
    "adjustments": "none",
}


def at(day: int, hour: int, minute: int = 0, month: int = 8) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON)


async def report_hate(storage: Storage, settings: Settings, clock: Clock) -> Case:
    """Sam texts a hate report at Friday 16:00 and answers every question."""
    service = IntakeService(storage, settings, clock=clock, rules=build_case_rules(settings))
    count = 0

    async def say(text: str) -> Any:
        nonlocal count
        count += 1
        message = InboundMessage(Channel.SMS, "+447700900123", f"SM{count}", text, clock())
        return (await service.handle(message)).replies

    replies = await say("the man next door shouts racist abuse at me and spat at my door")
    for _ in range(40):
        asked = next((r.question_id for r in reversed(replies) if r.question_id), None)
        if asked is None:
            assert replies[-1].text == "Is this right?", [r.text for r in replies]
            replies = await say("1")
            break
        replies = await say(ANSWERS.get(asked, "1"))
    assert any("ASB-2026-000001" in r.text for r in replies), [r.text for r in replies]
    async with storage.unit_of_work() as uow:
        case = await uow.cases.by_reference("ASB-2026-000001")
        assert case is not None
        return case


class Timeline:
    """Moves the clock and records which casework messages each moment produced."""

    def __init__(self, storage: Storage, casework: CaseworkContext, clock: Clock) -> None:
        self.storage, self.casework, self.clock = storage, casework, clock
        self.seen = 0

    async def at(self, moment: datetime) -> list[tuple[str, str, str]]:
        self.clock.set(moment)
        await run(self.storage, self.casework, self.clock)
        new = await messages(self.storage, since_id=self.seen)
        if new:
            self.seen = new[-1].id
        return [(who(m), m.channel, m.body.split(":")[0]) for m in new]


@pytest.fixture
async def hate_case(team_storage: Storage, settings: Settings, clock: Clock) -> Case:
    case = await report_hate(team_storage, settings, clock)
    assert (case.priority, case.hate, case.officer_id) == ("P1", True, "amara")
    assert case.deadline_at == at(1, 17, month=9)  # Mon 31 Aug is a bank holiday
    return case


async def test_every_alert_reminder_deadline_and_escalation_lands_at_its_exact_time(
    team_storage: Storage, casework: CaseworkContext, clock: Clock, hate_case: Case
) -> None:
    storage = team_storage
    timeline = Timeline(storage, casework, clock)
    assert [(a.kind, a.due_at) for a in await actions(storage)] == [
        ("alert_officer", at(28, 16)),
        ("first_contact_reminder", at(1, 15, month=9)),
        ("first_contact_deadline", at(1, 17, month=9)),
        ("update_reminder", at(11, 16, month=9)),
        ("closure_check", at(25, 16, month=9)),
    ]

    # 16:00 the office is open: the case officer is alerted at once, by email.
    assert await timeline.at(at(28, 16)) == [("amara", "email", "Hate report")]
    assert await timeline.at(at(28, 16, 14)) == []
    # 16:15 not acknowledged: her other contact (SMS) and the on-call officer (Telegram).
    assert await timeline.at(at(28, 16, 15)) == [
        ("amara", "sms", "Not yet acknowledged"),
        ("olu", "telegram", "Not yet acknowledged"),
    ]
    # 16:30 still nobody: the manager.
    assert await timeline.at(at(28, 16, 30)) == [("chloe", "email", "Escalation")]
    # Nothing over the weekend and the bank holiday.
    for moment in (at(29, 9), at(31, 9), at(1, 14, 59, month=9)):
        assert await timeline.at(moment) == []
    # Tuesday 15:00, two hours before the deadline: the reminder.
    assert await timeline.at(at(1, 15, month=9)) == [("amara", "email", "Reminder")]
    # Tuesday 17:00, no contact recorded: breach. The office has just closed and it is P1, so
    # the on-call officer hears at once as well as the manager; the officer is told too.
    assert await timeline.at(at(1, 17, month=9)) == [
        ("chloe", "email", "Deadline missed"),
        ("olu", "telegram", "Deadline missed"),
        (
            "amara",
            "email",
            "The first-contact deadline for ASB-2026-000001 (P1) passed at Tue 1 Sep 17",
        ),
    ]
    # The reporter asked for an update every 28 days; a hate case gets one every 14.
    assert await timeline.at(at(11, 15, 59, month=9)) == []
    assert await timeline.at(at(11, 16, month=9)) == [("amara", "email", "Update due")]
    assert [(a.kind, a.due_at) for a in await actions(storage)] == [
        ("closure_check", at(25, 16, month=9)),
        ("update_reminder", at(25, 16, month=9)),
    ]
    audit = await audit_actions(storage, hate_case.id)
    assert audit.count("alert.sent") == 1
    assert audit.count("alert.escalated") == 2
    assert audit.count("first_contact.breached") == 1


async def test_an_acknowledged_alert_goes_no_further_and_first_contact_stops_the_escalation(
    team_storage: Storage, casework: CaseworkContext, clock: Clock, hate_case: Case
) -> None:
    storage = team_storage
    timeline = Timeline(storage, casework, clock)
    assert await timeline.at(at(28, 16)) == [("amara", "email", "Hate report")]

    clock.set(at(28, 16, 5))
    async with storage.unit_of_work() as uow:
        amara = await find_officer(uow, "email", "Amara@Example.org")
        assert amara is not None
        answer = await handle_officer_reply(
            uow, amara, "ACK", clock(), casework=casework, reference=hate_case.reference
        )
    assert (
        answer
        == "Thanks Amara Okafor. ASB-2026-000001 acknowledged. First contact by Tue 1 Sep 17:00."
    )
    assert await timeline.at(at(28, 16, 15)) == []
    assert await timeline.at(at(28, 16, 30)) == []

    clock.set(at(1, 10, month=9))
    async with storage.unit_of_work() as uow:
        amara = await find_officer(uow, "sms", "+447700900001")
        assert amara is not None
        answer = await handle_officer_reply(
            uow, amara, "contacted asb-2026-1 spoke to Sam", clock(), casework=casework
        )
    assert answer is not None and answer.startswith("First contact for ASB-2026-000001 recorded")
    assert await timeline.at(at(1, 15, month=9)) == []
    assert await timeline.at(at(1, 17, month=9)) == []
    case = await reload(storage, hate_case.id)
    assert case.first_contact_at == at(1, 10, month=9)
    assert case.acknowledged_by == "amara"
    cancelled = {a.kind for a in await actions(storage, status="cancelled")}
    assert cancelled == {"alert_second_route", "first_contact_reminder", "first_contact_deadline"}
    assert "first_contact.breached" not in await audit_actions(storage, hate_case.id)


async def test_a_restart_after_the_weekend_runs_what_fell_due_once_and_in_order(
    team_storage: Storage, casework: CaseworkContext, clock: Clock, hate_case: Case
) -> None:
    """The service was down from Friday 15:59 to Wednesday 09:00: the alert, both escalation
    levels, the reminder and the breach each run once; the second route counts from when the
    alert actually went (coalesced, not replayed)."""
    storage = team_storage
    timeline = Timeline(storage, casework, clock)
    sent = await timeline.at(at(2, 9, month=9))
    assert sent == [
        ("amara", "email", "Hate report"),
        ("chloe", "email", "Deadline missed"),
        (
            "amara",
            "email",
            "The first-contact deadline for ASB-2026-000001 (P1) passed at Tue 1 Sep 17",
        ),
    ]  # the reminder is pointless after the deadline; nothing is sent twice
    assert await timeline.at(at(2, 9, month=9)) == []
    assert await timeline.at(at(2, 9, 15, month=9)) == [
        ("amara", "sms", "Not yet acknowledged"),
        ("olu", "telegram", "Not yet acknowledged"),
    ]
    assert await timeline.at(at(2, 10, month=9)) == [("chloe", "email", "Escalation")]
    assert clock() - timedelta(minutes=45) == at(2, 9, 15, month=9)
