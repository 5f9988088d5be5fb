"""The intake service on real databases (SQLite and PostgreSQL): one transaction per message,
redeliveries answered once, partial reports never dropped, evidence kept."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from intake.bootstrap import build_case_rules, sync_team
from intake.messages import Attachment, Channel, InboundMessage
from intake.service import SAFE_FAILURE_TEXT, IntakeService
from intake.settings import Settings, load_settings
from storage.models import (
    Case,
    ChannelIdentity,
    ConsentRecord,
    Conversation,
    Evidence,
    Incident,
    OutboxMessage,
    RiskAssessment,
    ScheduledAction,
)
from storage.models import (
    InboundMessage as InboundRow,
)
from storage.uow import Storage
from tests.conftest import REPO

LONDON = ZoneInfo("Europe/London")
FRIDAY_4PM = datetime(2026, 11, 20, 16, 0, tzinfo=LONDON)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(REPO / "config.yaml", {"INTAKE_SERVICE__DATA_DIR": str(tmp_path / "var")})


@pytest.fixture
async def service(storage: Storage, settings: Settings) -> IntakeService:
    await sync_team(storage, settings.team)
    return IntakeService(
        storage, settings, clock=Clock(FRIDAY_4PM), rules=build_case_rules(settings)
    )


class Sender:
    def __init__(self, service: IntakeService, channel: Channel, address: str) -> None:
        self.service, self.channel, self.address = service, channel, address
        self.count = 0

    async def say(self, text: str, **extra: Any) -> list[str]:
        self.count += 1
        clock = self.service.clock
        message = InboundMessage(
            self.channel, self.address, f"{self.address}-{self.count}", text, clock(), **extra
        )
        handled = await self.service.handle(message)
        self.last, self.handled = handled.replies, handled
        return [r.text for r in handled.replies]

    async def finish_report(self) -> list[str]:
        """Answer every question from ANSWERS (by question id) and send the report."""
        replies: list[str] = []
        for _ in range(40):
            asked = next((r.question_id for r in reversed(self.last) if r.question_id), None)
            if asked is None:
                assert self.last[-1].text == "Is this right?", [r.text for r in self.last]
                return await self.say("1")
            replies = await self.say(ANSWERS[asked])
        raise AssertionError(replies)


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
    "hate": "no",
    "risk": "1 2",
    "share_consent": "yes",
    "anonymous": "1",
    "reporter_name": "Sam Jones",
    "reporter_address": "12 Elm Court DH1 3AB",
    "contact_method": "1",
    "safe_messages": "yes",
    "update_frequency": "2",
    "support": "no",
    "adjustments": "none",
    "graffiti_offensive": "no",
}


async def count(storage: Storage, model: Any, *where: Any) -> int:
    async with storage.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_a_report_lands_in_one_transaction_with_all_its_rows(
    service: IntakeService, storage: Storage
) -> None:
    sms = Sender(service, Channel.SMS, "+447700900123")
    await sms.say("my neighbour keeps threatening me on the stairs")
    replies = await sms.finish_report()
    assert "Your reference is ASB-2026-000001" in replies[0]
    async with storage.session() as session:
        case = (await session.execute(select(Case))).scalar_one()
        assert (case.status, case.priority, case.category) == ("open", "P1", "violence_threats")
        assert case.deadline_at == datetime(2026, 11, 23, 17, tzinfo=LONDON)
        assert case.officer_id in ("amara", "ben") and case.area_code == "north"
        assert case.adjustments == {"safe_messages": "yes", "support": "no"}
    assert await count(storage, Incident) == 1
    assert await count(storage, RiskAssessment) == 1
    assert await count(storage, ConsentRecord, ConsentRecord.kind == "share_with_police") == 1
    assert await count(storage, OutboxMessage, OutboxMessage.status == "pending") >= 20
    async with storage.session() as session:
        kinds = set((await session.execute(select(ScheduledAction.kind))).scalars())
    assert {"alert_officer", "first_contact_deadline", "closure_check"} <= kinds


async def test_a_redelivered_message_gets_the_first_answer_and_changes_nothing(
    service: IntakeService, storage: Storage
) -> None:
    message = InboundMessage(
        Channel.SMS,
        "+447700900124",
        "SMdup1",
        "kids keep kicking footballs at my window",
        FRIDAY_4PM,
    )
    first = await service.handle(message)
    again = await service.handle(message)
    assert first.first_delivery and not again.first_delivery
    assert [r.text for r in again.replies] == [r.text for r in first.replies]
    assert await count(storage, InboundRow) == 1
    async with storage.session() as session:
        conversation = (await session.execute(select(Conversation))).scalar_one()
    assert conversation.version == 1


async def test_concurrent_redeliveries_are_processed_once(
    service: IntakeService, storage: Storage
) -> None:
    message = InboundMessage(
        Channel.SMS,
        "+447700900125",
        "SMdup2",
        "someone keeps dumping rubbish by the bins",
        FRIDAY_4PM,
    )
    results = await asyncio.gather(
        *(service.handle(message) for _ in range(10)), return_exceptions=True
    )
    handled = [r for r in results if not isinstance(r, BaseException)]
    assert sum(1 for r in handled if r.first_delivery) == 1
    assert await count(storage, InboundRow) == 1
    assert await count(storage, OutboxMessage) == len(handled[0].replies)


async def test_a_quiet_reporter_with_a_risk_signal_is_saved_and_flagged(
    service: IntakeService, storage: Storage
) -> None:
    web = Sender(service, Channel.WEB, "web-session-1")
    await web.say("he said he would stab me if I told anyone")
    assert await count(storage, Case) == 0
    service.clock.now = FRIDAY_4PM + timedelta(hours=3)  # type: ignore[attr-defined]
    assert await service.run_idle_checks() == 1
    async with storage.session() as session:
        case = (await session.execute(select(Case))).scalar_one()
        alerts = (
            (
                await session.execute(
                    select(ScheduledAction).where(ScheduledAction.kind == "alert_officer")
                )
            )
            .scalars()
            .all()
        )
    assert case.status == "incomplete" and case.priority == "P1"
    assert [a.payload["reason"] for a in alerts] == ["partial report with a risk signal"]
    assert await service.run_idle_checks() == 0


async def test_an_idle_check_does_nothing_if_the_reporter_carried_on(
    service: IntakeService, storage: Storage
) -> None:
    web = Sender(service, Channel.WEB, "web-session-2")
    await web.say("there is an old fridge dumped in the car park")
    service.clock.now = FRIDAY_4PM + timedelta(hours=1)  # type: ignore[attr-defined]
    await web.say("1")
    service.clock.now = FRIDAY_4PM + timedelta(hours=2, minutes=30)  # type: ignore[attr-defined]
    assert await service.run_idle_checks() == 0
    assert await count(storage, Case) == 0


async def test_stop_and_start_mark_the_number(service: IntakeService, storage: Storage) -> None:
    sms = Sender(service, Channel.SMS, "+447700900126")
    await sms.say("STOP")
    async with storage.session() as session:
        identity = (await session.execute(select(ChannelIdentity))).scalar_one()
    assert identity.opted_out_at is not None
    await sms.say("START")
    async with storage.session() as session:
        identity = (await session.execute(select(ChannelIdentity))).scalar_one()
    assert identity.opted_out_at is None


async def test_photos_are_stored_and_linked_to_the_case(
    service: IntakeService, storage: Storage, settings: Settings
) -> None:
    web = Sender(service, Channel.WEB, "web-session-3")
    await web.say("someone has smashed the glass in the front door of the block")
    photo = Attachment("image/jpeg", 4, "door.jpg", b"\xff\xd8\xff\xe0")
    replies = await web.say("", attachments=(photo,))
    assert "kept 1 file" in replies[0]
    await web.finish_report()
    async with storage.session() as session:
        evidence = (await session.execute(select(Evidence))).scalar_one()
        case = (await session.execute(select(Case))).scalar_one()
    assert evidence.case_id == case.id and evidence.kind == "photo"
    stored = await asyncio.to_thread(Path(evidence.stored_at).read_bytes)
    assert stored == b"\xff\xd8\xff\xe0"
    assert Path(evidence.stored_at).is_relative_to(settings.service.data_dir)


class BrokenService(IntakeService):
    async def _context(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in a step")


async def test_a_failing_step_keeps_the_message_and_answers_safely(
    storage: Storage, settings: Settings
) -> None:
    broken = BrokenService(
        storage, settings, clock=Clock(FRIDAY_4PM), rules=build_case_rules(settings)
    )
    message = InboundMessage(
        Channel.SMS,
        "+447700900127",
        "SMbroken",
        "my neighbour threatened me",
        FRIDAY_4PM,
        raw=b"Body=my+neighbour",
    )
    handled = await broken.handle(message)
    assert [r.text for r in handled.replies] == [SAFE_FAILURE_TEXT]
    async with storage.session() as session:
        row = (await session.execute(select(InboundRow))).scalar_one()
        flags = (
            (
                await session.execute(
                    select(ScheduledAction).where(ScheduledAction.kind == "officer_flag")
                )
            )
            .scalars()
            .all()
        )
    assert (row.status, row.payload, row.error) == ("failed", b"Body=my+neighbour", "RuntimeError")
    assert len(flags) == 1
    again = await broken.handle(message)
    assert not again.first_delivery and [r.text for r in again.replies] == [SAFE_FAILURE_TEXT]


async def test_only_the_tenant_can_change_the_advocate(
    service: IntakeService, storage: Storage
) -> None:
    from storage.models import Advocacy, Person

    advocate = Sender(service, Channel.EMAIL, "jo@mind.example")
    await advocate.say(
        "I'm a support worker writing on behalf of my client Mrs Khan, youths keep "
        "intimidating her outside her flat"
    )
    answers = ANSWERS | (
        {
            "advocate_name": "Jo Patel, Mind",
            "tenant_name": "Mrs Amina Khan",
            "tenant_address": "3 Rowan Way DH2 1AA",
            "tenant_contact": "07700 900456",
            "tenant_consent": "yes",
            "tenant_preferred_contact": "2",
        }
    )
    for _ in range(6):
        asked = [r.question_id for r in advocate.last if r.question_id]
        if not asked:
            break
        await advocate.say("\n".join(f"{n}. {answers[q]}" for n, q in enumerate(asked, 1)))
    async with storage.session() as session:
        case = (await session.execute(select(Case))).scalar_one()
    refused = await advocate.say(f"change advocate {case.reference}")
    assert "Only the person the report is about" in refused[0]

    tenant = Sender(service, Channel.SMS, "+447700900456")
    ended = await tenant.say("change my advocate")
    assert f"no longer acts for you on {case.reference}" in ended[0]
    await tenant.say("my daughter Sara Khan 07700 900999")
    async with storage.session() as session:
        advocacies = (await session.execute(select(Advocacy).order_by(Advocacy.id))).scalars().all()
        names = [(await session.get(Person, a.advocate_id)).name for a in advocacies]  # type: ignore[union-attr]
    assert [a.ended_by for a in advocacies] == ["tenant", None]
    assert names == ["Jo Patel, Mind", "my daughter Sara Khan 07700 900999"]


async def test_an_officer_acknowledges_from_their_own_address(
    storage: Storage, settings: Settings
) -> None:
    from casework.context import context_from_settings
    from intake.runner import build_officer_desk
    from storage.models import AuditEvent

    await sync_team(storage, settings.team)
    desk = build_officer_desk(context_from_settings(settings, secret="test-secret"))
    service = IntakeService(
        storage,
        settings,
        clock=Clock(FRIDAY_4PM),
        officer_desk=desk,
        rules=build_case_rules(settings),
    )
    tenant = Sender(service, Channel.SMS, "+447700900131")
    await tenant.say("my neighbour keeps threatening me on the stairs")
    ack = await tenant.finish_report()
    reference = re.search(r"ASB-\d{4}-\d{6}", " ".join(ack))
    assert reference
    async with storage.session() as session:
        case = (await session.execute(select(Case))).scalar_one()
    officer = Sender(service, Channel.EMAIL, f"{case.officer_id}@example.org")
    officer.address = {"amara": "amara.okafor@example.org", "ben": "ben.walsh@example.org"}[
        str(case.officer_id)
    ]
    answer = await officer.say(f"ACK {reference.group(0)}")
    assert reference.group(0) in answer[0]
    async with storage.session() as session:
        actions = set((await session.execute(select(AuditEvent.action))).scalars())
        cases = await session.scalar(select(func.count()).select_from(Case))
    assert any("ack" in a for a in actions), actions
    assert cases == 1, "an officer's message is not a new report"


async def test_a_reply_to_the_satisfaction_survey_is_stored_as_its_answer(
    storage: Storage, settings: Settings
) -> None:
    from casework.context import context_from_settings
    from intake.runner import build_survey_desk
    from storage.models import SurveyResponse

    service = IntakeService(
        storage,
        settings,
        clock=Clock(FRIDAY_4PM),
        survey_desk=build_survey_desk(context_from_settings(settings)),
        rules=build_case_rules(settings),
    )
    tenant = Sender(service, Channel.SMS, "+447700900141")
    await tenant.say("my neighbour keeps threatening me on the stairs")
    await tenant.finish_report()
    async with storage.unit_of_work() as uow:
        case = (await uow.session.execute(select(Case))).scalar_one()
        case.status, case.closed_at = "closed", FRIDAY_4PM
        uow.session.add(
            SurveyResponse(
                case_id=case.id,
                identity_id=case.reporter_identity_id,
                channel="sms",
                asked_at=FRIDAY_4PM,
            )
        )
    thanks = await tenant.say("2")
    async with storage.session() as session:
        survey = (await session.execute(select(SurveyResponse))).scalar_one()
        cases = await session.scalar(select(func.count()).select_from(Case))
    assert survey.score == 2 and survey.answered_at is not None
    assert thanks and "Please tell us what happened" not in thanks[0]
    assert cases == 1


async def test_each_message_says_who_has_work_from_it(
    service: IntakeService, storage: Storage, settings: Settings
) -> None:
    """``intake serve`` wakes the outbox dispatcher and the casework claimer only when a
    message gave them work (each wake-up is a claiming transaction): replies answered inline
    queue nothing to send; a finished P1 report has an alert due at once."""
    idle = settings.conversation.idle_timeout.as_timedelta()
    inline = await service.handle(
        InboundMessage(Channel.SMS, "+447700900150", "SMwake1", "loud music every night",
                       FRIDAY_4PM),
        inline=True,
    )
    assert not inline.deliveries_queued  # TwiML carried the reply
    # only the idle check, half an hour away, which the intake runs on its own timer: nothing
    # for casework (counting it woke casework's claimer for every message, 12% of serve's CPU)
    assert inline.next_due is None
    async with storage.session() as session:
        idle_due = await session.scalar(
            select(ScheduledAction.due_at).where(ScheduledAction.kind == "conversation_idle")
        )
    assert idle_due == FRIDAY_4PM + idle
    queued = await service.handle(
        InboundMessage(Channel.TELEGRAM, "4242", "tg-wake-1", "loud music every night",
                       FRIDAY_4PM)
    )
    assert queued.deliveries_queued  # the outbox sends Telegram's reply
    again = await service.handle(
        InboundMessage(Channel.TELEGRAM, "4242", "tg-wake-1", "loud music every night",
                       FRIDAY_4PM)
    )
    assert not again.deliveries_queued and again.next_due is None  # a redelivery: no work
    sms = Sender(service, Channel.SMS, "+447700900151")
    await sms.say("my neighbour keeps threatening me on the stairs")
    await sms.finish_report()  # the last answer sends the report: a P1 case
    assert sms.handled.case_reference is not None
    assert sms.handled.next_due is not None and sms.handled.next_due <= FRIDAY_4PM
    async with storage.session() as session:
        alert_due = await session.scalar(
            select(func.min(ScheduledAction.due_at)).where(ScheduledAction.kind == "alert_officer")
        )
    assert alert_due == sms.handled.next_due  # the officer's alert, due now


async def test_a_message_after_the_database_dropped_our_connections_is_answered(
    service: IntakeService, storage: Storage, database_url: str, request: pytest.FixtureRequest
) -> None:
    """PostgreSQL restarted (every backend terminated) between two messages: the pool's
    connections are dead, and nothing pings them first. The next message is still processed
    normally on a fresh connection, not answered with the safe failure and flagged."""
    if not database_url.startswith("postgresql"):
        return  # SQLite has no connection to lose
    from tests.conftest import _admin

    sms = Sender(service, Channel.SMS, "+447700900160")
    await sms.say("loud music from flat 4 every night")
    name = make_url(database_url).database
    await _admin(
        request.getfixturevalue("postgres_admin_url"),
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
    )
    replies = await sms.say("yes it is still going on")
    assert SAFE_FAILURE_TEXT not in replies
    assert await count(storage, InboundRow, InboundRow.status == "failed") == 0
    assert await count(storage, InboundRow, InboundRow.status == "processed") == 2


async def test_a_database_restart_under_load_loses_and_fails_no_message(
    service: IntakeService, storage: Storage, database_url: str, request: pytest.FixtureRequest
) -> None:
    """Every backend is terminated (as in a PostgreSQL restart) while forty reports are being
    handled at once, some mid-transaction and some waiting for a connection: every one is
    still processed and answered normally, none is answered with the safe failure, and
    the pool is healthy afterwards (no ping per checkout hides a dead connection)."""
    if not database_url.startswith("postgresql"):
        return  # SQLite has no connection to lose
    from tests.conftest import _admin

    await Sender(service, Channel.SMS, "+447700900180").say("warm the pool: loud music")
    name = make_url(database_url).database
    at = datetime(2026, 3, 6, 16, 0, tzinfo=ZoneInfo("Europe/London"))

    async def report(n: int) -> Any:
        return await service.handle(
            InboundMessage(Channel.SMS, f"+4477009{n:05d}", f"SMrestart{n:04d}",
                           "bins dumped by the shed again", at)
        )

    pending = [asyncio.create_task(report(n)) for n in range(40)]
    await asyncio.sleep(0.02)  # some are mid-transaction now
    await _admin(
        request.getfixturevalue("postgres_admin_url"),
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
    )
    handled = await asyncio.gather(*pending)
    assert all(SAFE_FAILURE_TEXT not in [r.text for r in h.replies] for h in handled)
    assert await count(storage, InboundRow, InboundRow.status == "failed") == 0
    assert await count(storage, InboundRow, InboundRow.status == "processed") == 41
    replies = await Sender(service, Channel.SMS, "+447700900181").say("graffiti on the wall")
    assert SAFE_FAILURE_TEXT not in replies


async def test_a_connection_lost_in_the_middle_of_a_step_is_retried_once(
    storage: Storage, settings: Settings, database_url: str
) -> None:
    """The database drops our connection half-way through a message (its backend is
    terminated, as in a restart): nothing of the step was kept, so it runs again on a fresh
    connection and the reporter gets the normal answer, not the safe failure."""
    if not database_url.startswith("postgresql"):
        return  # SQLite has no connection to lose
    from sqlalchemy import text

    killed: list[bool] = []

    async def officer_desk(uow: Any, message: InboundMessage) -> str | None:
        if not killed:  # the first time only: our own backend goes away mid-transaction
            killed.append(True)
            await uow.session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return None

    await sync_team(storage, settings.team)
    service = IntakeService(
        storage, settings, clock=Clock(FRIDAY_4PM), officer_desk=officer_desk,
        rules=build_case_rules(settings),
    )
    handled = await service.handle(
        InboundMessage(Channel.SMS, "+447700900170", "SMlost1", "loud music every night",
                       FRIDAY_4PM)
    )
    assert killed == [True]
    assert SAFE_FAILURE_TEXT not in [r.text for r in handled.replies]
    assert await count(storage, InboundRow, InboundRow.status == "processed") == 1
    assert await count(storage, InboundRow, InboundRow.status == "failed") == 0
