"""Officers act from the alert: reply words on SMS, Telegram and email, and signed links."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from casework.context import CaseworkContext
from casework.links import make_action_token, read_action_token
from casework.officer_replies import (
    OfficerAddresses,
    OfficerCommand,
    find_officer,
    handle_action_link,
    handle_officer_reply,
    parse_officer_reply,
    snooze_length,
)
from storage.uow import Storage
from tests.casework.conftest import (
    LONDON,
    Clock,
    actions,
    audit_actions,
    messages,
    open_case,
    reload,
    run,
)

REPLIES = [
    ("ACK ASB-2026-000123", OfficerCommand("ack", "ASB-2026-000123")),
    ("ack asb-2026-123", OfficerCommand("ack", "ASB-2026-000123")),
    ("/ack ASB 2026 000123", OfficerCommand("ack", "ASB-2026-000123")),
    (
        "CONTACTED ASB-2026-000123 spoke to her",
        OfficerCommand("contacted", "ASB-2026-000123", "spoke to her"),
    ),
    ("SNOOZE ASB-2026-000123 2h", OfficerCommand("snooze", "ASB-2026-000123", "2h")),
    ("Done.", OfficerCommand("done", None)),
    ("CLOSE ASB-2026-000123 resolved", OfficerCommand("close", "ASB-2026-000123", "resolved")),
    ("\n> quoted alert\nUPDATED ASB-2026-000123", OfficerCommand("updated", "ASB-2026-000123")),
    ("help", OfficerCommand("help", None)),
    ("Hi, can you call me?", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), REPLIES, ids=[t or "empty" for t, _ in REPLIES])
def test_reply_words_are_read_from_the_first_line(
    text: str, expected: OfficerCommand | None
) -> None:
    assert parse_officer_reply(text) == expected


def test_the_reference_can_come_from_the_email_subject() -> None:
    assert parse_officer_reply("ACK", reference="asb-2026-000007") == OfficerCommand(
        "ack", "ASB-2026-000007"
    )


@pytest.mark.parametrize(
    ("words", "length"),
    [
        ("", timedelta(hours=1)),
        ("2h", timedelta(hours=2)),
        ("30 min", timedelta(minutes=30)),
        ("1 day", timedelta(days=1)),
        ("3 days", None),
        ("soon", None),
    ],
)
def test_snooze_lengths(words: str, length: timedelta | None) -> None:
    assert snooze_length(words) == length


async def reply(
    storage: Storage, casework: CaseworkContext, clock: Clock, channel: str, address: str, text: str
) -> str | None:
    async with storage.unit_of_work() as uow:
        officer = await find_officer(uow, channel, address)
        assert officer is not None, (channel, address)
        return await handle_officer_reply(uow, officer, text, clock(), casework=casework)


async def test_officers_are_known_by_their_addresses_on_every_channel(
    team_storage: Storage,
) -> None:
    async with team_storage.unit_of_work() as uow:
        found = [
            await find_officer(uow, "email", " AMARA@example.org "),
            await find_officer(uow, "sms", "+447700900002"),
            await find_officer(uow, "whatsapp", "whatsapp:+447700900002"),
            await find_officer(uow, "telegram", "5550001"),
            await find_officer(uow, "sms", "+447700900123"),
            await find_officer(uow, "telegram", "not-a-chat"),
        ]
    assert [o.id if o else None for o in found] == ["amara", "ben", "ben", "olu", None, None]


async def test_the_in_memory_check_finds_the_same_officers_and_follows_changes(
    team_storage: Storage,
) -> None:
    """``intake serve`` asks every inbound message whether an officer wrote it from memory;
    it must answer as the database does, see a new officer after ``refresh`` seconds, and
    never treat a just-deactivated officer as one."""
    now = [0.0]
    officers = OfficerAddresses(refresh=5.0, clock=lambda: now[0])
    senders = [
        ("email", " AMARA@example.org "),
        ("sms", "+447700900002"),
        ("whatsapp", "whatsapp:+447700900002"),
        ("telegram", "5550001"),
        ("sms", "+447700900123"),
        ("telegram", "not-a-chat"),
        ("chat", "amara@example.org"),
    ]
    async with team_storage.unit_of_work() as uow:
        found = [await officers.find(uow, channel, address) for channel, address in senders]
    assert [o.id if o else None for o in found] == [
        "amara", "ben", "ben", "olu", None, None, None
    ]
    async with team_storage.unit_of_work() as uow:
        ben = await uow.officers.get("ben")
        assert ben is not None
        ben.phone = "+447700900123"  # a new number
        amara = await uow.officers.get("amara")
        assert amara is not None
        amara.active = False
    async with team_storage.unit_of_work() as uow:
        assert await officers.find(uow, "sms", "+447700900123") is None  # not read again yet
        assert await officers.find(uow, "email", "amara@example.org") is None  # the DB decides
    now[0] = 5.0
    async with team_storage.unit_of_work() as uow:
        ben = await officers.find(uow, "sms", "+447700900123")
    assert ben is not None and ben.id == "ben"


async def test_snooze_reminds_later_but_never_after_the_deadline(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    case = await open_case(team_storage, casework, clock(), alert="hate")
    await run(team_storage, casework, clock)
    clock.set(datetime(2026, 9, 1, 15, 30, tzinfo=LONDON))
    answer = await reply(
        team_storage, casework, clock, "email", "amara@example.org", "SNOOZE ASB-2026-000001 2h"
    )
    assert answer == "OK. We'll remind you about ASB-2026-000001 at Tue 1 Sep 17:00."
    snoozed = [a for a in await actions(team_storage) if a.payload.get("snoozed_by")]
    assert [(a.kind, a.due_at) for a in snoozed] == [
        ("first_contact_reminder", datetime(2026, 9, 1, 17, tzinfo=LONDON))
    ]
    assert "alert_second_route" not in {a.kind for a in await actions(team_storage)}
    assert (await reload(team_storage, case.id)).acknowledged_by == "amara"
    assert "reminder.snoozed" in await audit_actions(team_storage, case.id)
    answer = await reply(
        team_storage, casework, clock, "email", "amara@example.org", "SNOOZE ASB-2026-000001 3 days"
    )
    assert answer == "Say how long, e.g. SNOOZE ASB-2026-000001 2h (up to 1 day)."


async def test_a_snoozed_reminder_goes_back_to_whoever_snoozed_it(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    await open_case(team_storage, casework, clock())
    answer = await reply(
        team_storage, casework, clock, "telegram", "5550001", "snooze ASB-2026-000001 30m"
    )
    assert answer == "OK. We'll remind you about ASB-2026-000001 at Fri 28 Aug 16:30."
    clock.advance(timedelta(minutes=30))
    await run(team_storage, casework, clock)
    [reminder] = await messages(team_storage)
    assert (reminder.officer_id, reminder.channel, reminder.body.split(":")[0]) == (
        "olu",
        "telegram",
        "Reminder",
    )


async def test_only_the_cases_officers_the_on_call_officer_and_managers_may_act(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    await open_case(team_storage, casework, clock())
    assert await reply(
        team_storage, casework, clock, "sms", "+447700900002", "ACK ASB-2026-000001"
    ) == ("ASB-2026-000001 is not one of your cases. Ask Amara Okafor or your manager.")
    assert await reply(
        team_storage,
        casework,
        clock,
        "email",
        "caretaking@example.org",
        "CONTACTED ASB-2026-000001",
    ) == ("ASB-2026-000001 is not one of your cases. Ask Amara Okafor or your manager.")
    assert (
        await reply(
            team_storage, casework, clock, "email", "chloe@example.org", "ACK ASB-2026-000001"
        )
        or ""
    ).startswith("Thanks Chloe Patel.")
    assert await reply(
        team_storage, casework, clock, "email", "amara@example.org", "ACK ASB-2026-000001"
    ) == ("ASB-2026-000001 was already acknowledged by Chloe Patel at Fri 28 Aug 16:00.")


async def test_unclear_replies_get_help_and_nothing_changes(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    await open_case(team_storage, casework, clock())
    help_text = await reply(
        team_storage, casework, clock, "sms", "+447700900001", "Hi, can you call me?"
    )
    assert help_text is not None and help_text.startswith("Reply with a word and the case")
    assert await reply(team_storage, casework, clock, "sms", "+447700900001", "ACK") == (
        "Please add the case reference, e.g. ACK ASB-2026-000123."
    )
    assert (
        await reply(team_storage, casework, clock, "sms", "+447700900001", "ACK ASB-2026-000099")
        == "We have no case ASB-2026-000099."
    )
    assert (
        await reply(team_storage, casework, clock, "sms", "+447700900001", "DONE ASB-2026-000001")
        == "ASB-2026-000001 has no graffiti job."
    )
    assert await reply(
        team_storage, casework, clock, "sms", "+447700900001", "CLOSE ASB-2026-000001 bored"
    ) == (
        "Give a reason: resolved, withdrawn, action_plan_not_kept, actions_exhausted, "
        "no_new_reports. For example: CLOSE ASB-2026-000001 resolved."
    )
    async with team_storage.unit_of_work() as uow:
        amara = await find_officer(uow, "sms", "+447700900001")
        assert amara is not None
        assert await handle_officer_reply(uow, amara, "  ", clock(), casework=casework) is None
    assert await audit_actions(team_storage) == []


async def test_closing_a_case_for_an_unreachable_reporter_asks_for_written_confirmation(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    await open_case(team_storage, casework, clock(), anonymous=True)
    assert await reply(
        team_storage, casework, clock, "sms", "+447700900001", "CLOSE ASB-2026-000001 withdrawn"
    ) == (
        "ASB-2026-000001 closed (withdrawn). We could not write to the reporter (anonymous "
        "report): please confirm the closure to them another way."
    )
    assert (
        await reply(team_storage, casework, clock, "sms", "+447700900001", "ACK ASB-2026-000001")
        == "ASB-2026-000001 is already closed."
    )
    assert {a.kind for a in await actions(team_storage)} == {"survey"}


async def test_a_signed_link_acts_once_for_its_officer_and_case(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    case = await open_case(team_storage, casework, clock(), alert="hate")
    await run(team_storage, casework, clock)
    [alert] = await messages(team_storage)
    urls = [line.split(": ", 1)[1] for line in alert.body.splitlines() if "/officer/act/" in line]
    assert [u.split("/officer/act/")[0] for u in urls] == ["http://127.0.0.1:8080"] * 2
    contacted = urls[1].rsplit("/", 1)[1]
    clock.advance(timedelta(minutes=3))
    async with team_storage.unit_of_work() as uow:
        answer = await handle_action_link(uow, contacted, clock(), casework=casework)
    assert answer.startswith("First contact for ASB-2026-000001 recorded at Fri 28 Aug 16:03.")
    assert (await reload(team_storage, case.id)).first_contact_at == clock()
    async with team_storage.unit_of_work() as uow:
        again = await handle_action_link(uow, contacted, clock(), casework=casework)
        tampered = await handle_action_link(uow, contacted[:-2] + "xx", clock(), casework=casework)
    assert again == "First contact for ASB-2026-000001 was already recorded at Fri 28 Aug 16:03."
    assert tampered == "This link has expired or is not valid. Reply to the alert instead."


def test_links_expire_and_cannot_be_forged_or_retargeted() -> None:
    issued = datetime(2026, 8, 28, 16, tzinfo=LONDON)
    token = make_action_token(
        "secret", verb="ack", reference="ASB-2026-000001", officer_id="amara", issued_at=issued
    )
    read = read_action_token(
        "secret", token, now=issued + timedelta(days=6), max_age=timedelta(days=7)
    )
    assert read is not None and (read.verb, read.reference, read.officer_id) == (
        "ack",
        "ASB-2026-000001",
        "amara",
    )
    assert (
        read_action_token(
            "secret", token, now=issued + timedelta(days=8), max_age=timedelta(days=7)
        )
        is None
    )
    assert read_action_token("other", token, now=issued, max_age=timedelta(days=7)) is None
    with pytest.raises(ValueError, match="links can only"):
        make_action_token("secret", verb="close", reference="x", officer_id="y", issued_at=issued)
