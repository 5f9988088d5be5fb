"""Each casework job on real databases, with a clock the test moves: out-of-hours routing,
graffiti jobs, update cadence, ASB Case Review, closure checks, surveys, and reporters who must
not be written to."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from casework.context import CaseworkContext, JobContext
from casework.jobs import HANDLERS, close_case
from casework.officer_replies import find_officer, handle_officer_reply
from casework.scheduler import run_action
from casework.survey import parse_score, record_survey_answer
from storage.models import ChannelIdentity, InboundMessage, Incident, SurveyResponse
from storage.uow import Storage
from tests.casework.conftest import (
    LONDON,
    Clock,
    actions,
    add_reporter,
    audit_actions,
    messages,
    open_case,
    reload,
    run,
    who,
)


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON)


# --- out of hours ----------------------------------------------------------------------------------


async def test_an_out_of_hours_p1_alert_goes_to_the_on_call_officer_at_once(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    clock.set(at(8, 29, 22))  # Saturday night
    case = await open_case(team_storage, casework, clock(), alert="emergency")
    await run(team_storage, casework, clock)
    [alert] = await messages(team_storage)
    assert (who(alert), alert.channel, alert.recipient) == ("olu", "telegram", "5550001")
    assert alert.body.startswith("Out of hours, for the on-call officer. Emergency report:")
    assert alert.next_attempt_at == clock()
    [second] = [a for a in await actions(team_storage) if a.kind == "alert_second_route"]
    assert second.due_at == at(8, 29, 22, 15)
    assert "alert.sent" in await audit_actions(team_storage, case.id)


async def test_out_of_hours_a_p2_waits_for_the_next_working_morning(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    clock.set(at(8, 29, 22))
    case = await open_case(team_storage, casework, clock(), priority="P2", category="noise")
    async with team_storage.unit_of_work() as uow:
        await uow.actions.schedule(
            "callback_request",
            clock(),
            case_id=case.id,
            dedupe_key="callback:1",
            payload={"number": "+447700900123"},
        )
    await run(team_storage, casework, clock)
    assert await messages(team_storage) == []
    [waiting] = [a for a in await actions(team_storage) if a.kind == "callback_request"]
    assert waiting.due_at == at(9, 1, 9)  # Tuesday 09:00: Monday is the bank holiday
    clock.set(at(9, 1, 8, 59))
    await run(team_storage, casework, clock)
    assert await messages(team_storage) == []
    clock.set(at(9, 1, 9))
    await run(team_storage, casework, clock)
    [callback] = await messages(team_storage)
    assert (who(callback), callback.body) == (
        "amara",
        "Callback requested (ASB-2026-000001): please contact the reporter on +447700900123.",
    )


async def test_a_flag_without_a_case_goes_to_the_on_call_officer_in_office_hours(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    async with team_storage.unit_of_work() as uow:
        await uow.actions.schedule(
            "officer_flag",
            clock(),
            dedupe_key="flag:1",
            payload={"reason": "a message could not be processed"},
        )
    await run(team_storage, casework, clock)
    [flag] = await messages(team_storage)
    assert (who(flag), flag.body) == (
        "olu",
        "Please look at this: a message could not be processed.",
    )


# --- graffiti (R-11) ----------------------------------------------------------------------------


async def test_offensive_graffiti_goes_to_the_caretakers_with_a_one_working_day_target(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    reporter = await add_reporter(team_storage)
    case = await open_case(
        team_storage,
        casework,
        clock(),
        reporter=reporter,
        priority="P2",
        category="graffiti",
        hate=False,
        offensive_graffiti=True,
    )
    await run(team_storage, casework, clock)
    [job] = await messages(team_storage)
    assert who(job) == "dan" and job.recipient == "caretaking@example.org"
    assert job.extra["subject"] == "Graffiti removal ASB-2026-000001: by Tue 1 Sep 17:00"
    assert job.body.startswith(
        "Graffiti job ASB-2026-000001: please remove by Tue 1 Sep 17:00 "
        "(offensive: 1 working day). Where: Elm Court stairwell, DH1."
    )
    assert "/officer/act/" in job.body  # a one-click "removed" link in the email
    [due] = [a for a in await actions(team_storage) if a.kind == "graffiti_due"]
    assert due.due_at == at(9, 1, 17)

    clock.set(at(9, 1, 11))
    async with team_storage.unit_of_work() as uow:
        dan = await find_officer(uow, "email", "caretaking@example.org")
        assert dan is not None
        answer = await handle_officer_reply(
            uow, dan, "DONE ASB-2026-000001\n\n> Graffiti job ...", clock(), casework=casework
        )
    assert answer == (
        "Thanks. The graffiti on ASB-2026-000001 is recorded as removed and the reporter has "
        "been told."
    )
    told = (await messages(team_storage))[-1]
    assert (told.channel, told.recipient, told.identity_id) == (
        "sms",
        "+447700900123",
        reporter.identity_ids[0],
    )
    assert told.body == (
        "Example Homes: the graffiti you reported (ASB-2026-000001) has been removed. "
        "Thank you for telling us."
    )
    assert (await reload(team_storage, case.id)).graffiti_removed_at == at(9, 1, 11)
    clock.set(at(9, 2, 9))
    before = len(await messages(team_storage))
    await run(team_storage, casework, clock)
    assert len(await messages(team_storage)) == before  # no overdue chase: it was done


async def test_graffiti_not_removed_by_the_target_is_chased_and_the_manager_told(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    await open_case(
        team_storage,
        casework,
        clock(),
        priority="P2",
        category="graffiti",
        hate=False,
        offensive_graffiti=False,
    )
    await run(team_storage, casework, clock)
    [job] = await messages(team_storage)
    assert "(not offensive: 10 working days)" in job.body
    clock.set(at(9, 14, 17))  # the target; the office has just closed: it waits for 09:00
    await run(team_storage, casework, clock)
    assert len(await messages(team_storage)) == 1
    clock.set(at(9, 15, 9))
    await run(team_storage, casework, clock)
    chased = [
        (who(m), m.body.split(":")[0])
        for m in (await messages(team_storage))[1:]
        if "graffiti" in m.idempotency_key
    ]
    assert chased == [("dan", "Overdue"), ("chloe", "Graffiti target missed")]


# --- updates (R-09) --------------------------------------------------------------------------------


async def test_update_reminders_follow_the_agreed_cadence_but_hate_is_capped_at_14_days(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    hate = await open_case(team_storage, casework, clock(), update_every_days=28)
    noise = await open_case(
        team_storage, casework, clock(), priority="P2", category="noise", update_every_days=28
    )
    due = {(a.case_id, a.kind): a.due_at for a in await actions(team_storage)}
    assert due[(hate.id, "update_reminder")] == at(9, 11, 16)
    assert due[(noise.id, "update_reminder")] == at(9, 25, 16)
    clock.set(at(9, 11, 16))
    await run(team_storage, casework, clock)
    [reminder] = [m for m in await messages(team_storage) if "Update due" in m.body]
    assert reminder.body.startswith(
        "Update due: the reporter of ASB-2026-000001 (Hate incident or hate crime) expects an "
        "update at least every 14 days. Last update: none yet."
    )
    next_due = [
        a.due_at
        for a in await actions(team_storage)
        if a.case_id == hate.id and a.kind == "update_reminder"
    ]
    assert next_due == [at(9, 25, 16)]


async def test_an_officer_who_updates_on_time_is_not_reminded_and_downtime_coalesces(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    case = await open_case(team_storage, casework, clock())
    clock.set(at(9, 10, 10))
    async with team_storage.unit_of_work() as uow:
        amara = await find_officer(uow, "email", "amara@example.org")
        assert amara is not None
        answer = await handle_officer_reply(
            uow, amara, "UPDATED ASB-2026-000001", clock(), casework=casework
        )
    assert answer == (
        "Update to the reporter of ASB-2026-000001 recorded. Next update due by Thu 24 Sep 10:00."
    )
    clock.set(at(9, 11, 16))
    await run(team_storage, casework, clock)
    assert not [m for m in await messages(team_storage) if "Update due" in m.body]
    [moved] = [a for a in await actions(team_storage) if a.kind == "update_reminder"]
    assert moved.due_at == at(9, 24, 10)
    # Down for six weeks: one reminder, not three, and the next counts from now.
    clock.set(at(11, 5, 10))
    await run(team_storage, casework, clock)
    assert len([m for m in await messages(team_storage) if "Update due" in m.body]) == 1
    [following] = [a for a in await actions(team_storage) if a.kind == "update_reminder"]
    assert following.due_at == at(11, 19, 10)
    assert following.case_id == case.id


# --- ASB Case Review (R-12) ---------------------------------------------------------------------


async def _add_incident(storage: Storage, case_id: int, now: datetime, n: int) -> None:
    async with storage.unit_of_work() as uow:
        await uow.cases.add_incident(
            Incident(case_id=case_id, reported_at=now, description=f"again {n}")
        )
        await uow.actions.schedule(
            "incident_added", now, case_id=case_id, dedupe_key=f"incident:{case_id}:{n}"
        )


async def test_the_third_incident_in_six_months_flags_a_case_review_and_tells_the_reporter_once(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    reporter = await add_reporter(team_storage)
    case = await open_case(
        team_storage, casework, clock(), reporter=reporter, priority="P2", category="noise"
    )
    clock.set(at(10, 5, 11))
    await _add_incident(team_storage, case.id, clock(), 2)
    await run(team_storage, casework, clock)
    assert not (await reload(team_storage, case.id)).case_review_flag
    clock.set(at(12, 1, 11))
    await _add_incident(team_storage, case.id, clock(), 3)
    await run(team_storage, casework, clock)
    assert (await reload(team_storage, case.id)).case_review_flag
    told = [m for m in await messages(team_storage) if m.identity_id is not None]
    assert [m.body for m in told] == [
        "Example Homes: about ASB-2026-000001. You have the right to ask for an ASB Case Review "
        "of how we are handling it. Ask your officer and they will arrange it."
    ]
    officer = [m for m in await messages(team_storage) if "Case Review" in m.body and m.officer_id]
    assert [(who(m), m.body) for m in officer] == [
        (
            "amara",
            "ASB-2026-000001 qualifies for an ASB Case Review (3 incidents in 6 months). "
            "The reporter has been told they can ask for one.",
        ),
    ]
    clock.set(at(12, 2, 11))
    await _add_incident(team_storage, case.id, clock(), 4)
    await run(team_storage, casework, clock)
    assert len([m for m in await messages(team_storage) if m.identity_id is not None]) == 1
    assert (await audit_actions(team_storage, case.id)).count("case_review.flagged") == 1


async def test_incidents_older_than_six_months_do_not_count(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    case = await open_case(team_storage, casework, clock(), priority="P2", category="noise")
    clock.set(at(12, 1, 11))
    await _add_incident(team_storage, case.id, clock(), 2)
    clock.set(datetime(2027, 3, 1, 11, tzinfo=LONDON))
    await _add_incident(team_storage, case.id, clock(), 3)
    await run(team_storage, casework, clock)
    assert not (await reload(team_storage, case.id)).case_review_flag


async def test_a_high_risk_case_qualifies_at_once(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    reporter = await add_reporter(team_storage)
    case = await open_case(
        team_storage,
        casework,
        clock(),
        reporter=reporter,
        alert="P1 report",
        category="harassment_intimidation",
        risk_level="high",
    )
    await run(team_storage, casework, clock)
    assert (await reload(team_storage, case.id)).case_review_flag
    assert any(m.identity_id for m in await messages(team_storage))


# --- closure (R-13) ----------------------------------------------------------------------------------


async def test_the_closure_check_tries_two_channels_and_never_closes_on_silence(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    reporter = await add_reporter(
        team_storage, [("sms", "+447700900123"), ("email", "sam@example.org")]
    )
    case = await open_case(
        team_storage, casework, clock(), reporter=reporter, priority="P2", category="noise"
    )
    clock.set(at(9, 25, 16))
    await run(team_storage, casework, clock)
    checks = [m for m in await messages(team_storage) if m.identity_id is not None]
    assert [(m.channel, m.recipient) for m in checks] == [
        ("sms", "+447700900123"),
        ("email", "sam@example.org"),
    ]
    assert checks[0].body == (
        "Example Homes: no new reports on ASB-2026-000001 for 28 days. Is it still going on? "
        "Please reply. If we don't hear from you, we may close it."
    )
    [due] = [a for a in await actions(team_storage) if a.kind == "closure_due"]
    assert due.due_at == at(10, 2, 16)
    clock.set(at(10, 2, 16))
    await run(team_storage, casework, clock)
    decision = (await messages(team_storage))[-1]
    assert (who(decision), decision.body) == (
        "amara",
        "Closure check: no new reports on ASB-2026-000001 for 28 days. The reporter was asked on "
        "Friday 25 September by sms and email and has not replied. You may close it: reply "
        "CLOSE ASB-2026-000001 no_new_reports.",
    )
    assert (await reload(team_storage, case.id)).status == "open"


async def test_a_reply_to_the_closure_check_keeps_the_case_open_and_restarts_the_wait(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    reporter = await add_reporter(team_storage)
    case = await open_case(
        team_storage, casework, clock(), reporter=reporter, priority="P2", category="noise"
    )
    clock.set(at(9, 25, 16))
    await run(team_storage, casework, clock)
    async with team_storage.unit_of_work() as uow:
        uow.session.add(
            InboundMessage(
                channel="sms",
                external_id="SMx",
                sender="+447700900123",
                received_at=at(9, 26, 10),
                payload=b"yes still",
            )
        )
    clock.set(at(10, 2, 16))
    await run(team_storage, casework, clock)
    assert (await messages(team_storage))[-1].body == (
        "Closure check: the reporter of ASB-2026-000001 has been in touch since we asked, so it "
        "stays open."
    )
    [again] = [a for a in await actions(team_storage) if a.kind == "closure_check"]
    assert again.due_at == at(10, 30, 16)
    assert (await reload(team_storage, case.id)).status == "open"


async def test_new_incidents_move_the_closure_check_later(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    case = await open_case(team_storage, casework, clock(), priority="P2", category="noise")
    await _add_incident(team_storage, case.id, at(9, 10, 12), 2)
    clock.set(at(9, 25, 16))
    await run(team_storage, casework, clock)
    [moved] = [a for a in await actions(team_storage) if a.kind == "closure_check"]
    assert moved.due_at == at(10, 8, 12)
    assert not [m for m in await messages(team_storage) if m.identity_id]


async def test_with_one_channel_the_officer_is_told_to_try_another_way(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    reporter = await add_reporter(team_storage)
    await open_case(
        team_storage, casework, clock(), reporter=reporter, priority="P2", category="noise"
    )
    clock.set(at(9, 25, 16))
    await run(team_storage, casework, clock)
    clock.set(at(10, 2, 16))
    await run(team_storage, casework, clock)
    assert (await messages(team_storage))[-1].body.endswith(
        "by sms only. Please try another way (phone, letter or visit) before closing."
    )


# --- closing and the survey (R-13, R-14) -------------------------------------------------------------


async def test_closing_confirms_in_writing_and_the_survey_follows_seven_days_later(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    reporter = await add_reporter(
        team_storage, [("telegram", "777001"), ("email", "sam@example.org")]
    )
    case = await open_case(
        team_storage, casework, clock(), reporter=reporter, priority="P2", category="noise"
    )
    clock.set(at(10, 14, 11))
    async with team_storage.unit_of_work() as uow:
        amara = await find_officer(uow, "email", "amara@example.org")
        assert amara is not None
        answer = await handle_officer_reply(
            uow, amara, "CLOSE ASB-2026-000001 resolved", clock(), casework=casework
        )
    assert answer == "ASB-2026-000001 closed (resolved). The reporter has been told in writing."
    closed = await reload(team_storage, case.id)
    assert (closed.status, closed.closure_reason, closed.closed_at) == (
        "closed",
        "resolved",
        at(10, 14, 11),
    )
    assert [(a.kind, a.due_at) for a in await actions(team_storage)] == [("survey", at(10, 21, 11))]
    confirmation = (await messages(team_storage))[-1]
    assert (confirmation.channel, confirmation.body) == (
        "telegram",
        "Example Homes: we have closed your case ASB-2026-000001 (resolved). If anything happens "
        "again, you can report it here at any time.",
    )
    clock.set(at(10, 21, 10, 59))
    await run(team_storage, casework, clock)
    clock.set(at(10, 21, 11))
    await run(team_storage, casework, clock)
    intro, question = (await messages(team_storage))[-2:]
    assert (intro.channel, intro.recipient) == ("telegram", "777001")  # their own channel
    assert intro.extra["group"] == question.extra["group"]
    assert question.body == (
        "How satisfied or dissatisfied are you with our approach to handling anti-social "
        "behaviour? Reply 1 (very satisfied) to 5 (very dissatisfied)."
    )
    assert [label for _, label in question.extra["options"]] == [
        "Very satisfied",
        "Fairly satisfied",
        "Neither satisfied nor dissatisfied",
        "Fairly dissatisfied",
        "Very dissatisfied",
    ]
    clock.set(at(10, 22, 19))
    async with team_storage.unit_of_work() as uow:
        identity = await uow.session.get(ChannelIdentity, reporter.identity_ids[0])
        assert identity is not None
        thanks = await record_survey_answer(
            uow, identity, "2 - they were good", clock(), casework=casework
        )
        again = await record_survey_answer(uow, identity, "5", clock(), casework=casework)
    assert thanks == (
        "Thank you. Your answer helps us improve how we deal with anti-social behaviour."
    )
    assert again is None  # answered already: left to the conversation
    async with team_storage.session() as session:
        [stored] = (await session.execute(select(SurveyResponse))).scalars()
    assert (stored.score, stored.answered_at, stored.channel, stored.answer_text) == (
        2,
        at(10, 22, 19),
        "telegram",
        "2 - they were good",
    )


def test_survey_answers_are_read_as_points_on_the_tp12_scale() -> None:
    cases = {
        "1": 1,
        "5.": 5,
        "3 - ok I suppose": 3,
        "Very dissatisfied": 5,
        "fairly satisfied thanks": 2,
        "neither": 3,
        "6": None,
        "12": None,
        "what happens next": None,
        "": None,
    }
    assert {text: parse_score(text) for text in cases} == cases


# --- reporters who must not be written to (R-08, R-18) ------------------------------------------


async def test_opted_out_and_anonymous_reporters_get_nothing(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    stopped = await add_reporter(team_storage, opted_out_at=at(8, 20, 9))
    unknown = await add_reporter(team_storage, [("sms", "+447700900999")])
    quiet = await open_case(
        team_storage, casework, clock(), reporter=stopped, priority="P2", category="noise"
    )
    anonymous = await open_case(
        team_storage,
        casework,
        clock(),
        reporter=unknown,
        priority="P2",
        category="noise",
        anonymous=True,
    )
    for case in (quiet, anonymous):
        for n in (2, 3):
            await _add_incident(team_storage, case.id, at(9, 1, 10 + n), n)
    clock.set(at(10, 14, 10))
    await run(team_storage, casework, clock)
    async with team_storage.unit_of_work() as uow:
        ctx = JobContext(uow, casework, clock())
        for case_id in (quiet.id, anonymous.id):
            loaded = await ctx.case(case_id)
            assert loaded is not None
            await close_case(ctx, loaded, "no_new_reports", actor="officer:amara")
        await ctx.flush()
    clock.set(at(10, 21, 10))
    await run(team_storage, casework, clock)
    assert [m for m in await messages(team_storage) if m.identity_id or m.officer_id is None] == []
    audit = await audit_actions(team_storage)
    assert audit.count("survey.not_sent") == 2
    assert audit.count("case_review.flagged") == 2  # the officer still hears of it


async def test_a_reporter_for_whom_messages_are_not_safe_gets_nothing(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    reporter = await add_reporter(team_storage)
    await open_case(
        team_storage,
        casework,
        clock(),
        reporter=reporter,
        priority="P2",
        category="noise",
        adjustments={"safe_messages": "no"},
    )
    clock.set(at(9, 25, 16))
    await run(team_storage, casework, clock)
    clock.set(at(10, 2, 16))
    await run(team_storage, casework, clock)
    assert [m for m in await messages(team_storage) if m.identity_id] == []
    assert (await messages(team_storage))[-1].body.endswith(
        "but we cannot message the reporter (messages are not safe for them). Please contact "
        "them another way before closing."
    )


# --- idempotency --------------------------------------------------------------------------------


async def test_running_a_job_twice_sends_and_schedules_nothing_twice(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    reporter = await add_reporter(team_storage)
    case = await open_case(team_storage, casework, clock(), reporter=reporter, alert="hate")
    clock.set(at(9, 25, 16))
    for _ in range(2):
        async with team_storage.unit_of_work() as uow:
            ctx = JobContext(uow, casework, clock())
            for action in await uow.actions.pending_for_case(case.id):
                if action.kind in HANDLERS:
                    action.status = "running"
                    await run_action(ctx, action)
                    action.status = "pending"  # as if the first run's "done" was lost
            await ctx.flush()
    keys = [m.idempotency_key for m in await messages(team_storage)]
    assert len(keys) == len(set(keys)) > 0
    scheduled = [a.dedupe_key for a in await actions(team_storage, status=None)]
    assert len(scheduled) == len(set(scheduled))


async def test_every_job_kind_is_harmless_on_a_case_that_has_gone(
    team_storage: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    async with team_storage.unit_of_work() as uow:
        for kind in HANDLERS:
            if kind not in (
                "officer_digest",
                "review_digest",
                "monthly_figures",
                "officer_flag",
                "callback_request",
            ):
                await uow.actions.schedule(kind, clock(), dedupe_key=f"gone:{kind}")
    report = await run(team_storage, casework, clock)
    assert report.failed == 0
    assert await messages(team_storage) == []
    assert clock() - timedelta(0) == at(8, 28, 16)
