"""A case in the console: what it shows, and each action taken on it (acknowledge, contact,
action plan, message the reporter, assign, close), with the follow-ups, outbox rows and audit
events each leaves behind."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from casework.context import CaseworkContext
from storage.models import (
    AuditEvent,
    Case,
    Evidence,
    InboundMessage,
    OutboxMessage,
    RiskAssessment,
    ScheduledAction,
)
from storage.uow import Storage
from tests.casework.conftest import (
    Clock,
    actions,
    add_reporter,
    audit_actions,
    open_case,
    reload,
)
from tests.casework.console.conftest import Browser, change


async def reporter_case(
    storage: Storage, casework: CaseworkContext, clock: Clock, **fields: object
) -> Case:
    reporter = await add_reporter(storage)
    case = await open_case(storage, casework, clock.now, reporter=reporter, **fields)  # type: ignore[arg-type]
    async with storage.unit_of_work() as uow:
        uow.session.add(
            InboundMessage(
                channel="sms", external_id="SM1", sender="+447700900123", received_at=clock.now,
                payload=b"ToCountry=GB&Body=They+shouted+at+me+again&From=%2B447700900123",
            )
        )
        uow.session.add(
            RiskAssessment(case_id=case.id, answers={"q": "yes"}, score=9, level="high",
                           reasons=["threats of violence"], assessed_at=clock.now)
        )
        uow.session.add(
            Evidence(case_id=case.id, kind="photo", content_type="image/jpeg",
                     filename="door.jpg", size=2048, sha256="0" * 64, stored_at="x/door.jpg")
        )
    await change(storage, case.reference, triage_reasons=["said: because I am Muslim"])
    return case


async def outbox_for(storage: Storage, case_id: int) -> list[OutboxMessage]:
    async with storage.session() as session:
        result = await session.execute(
            select(OutboxMessage).where(OutboxMessage.case_id == case_id).order_by(OutboxMessage.id)
        )
        return list(result.scalars())


async def test_the_case_page_shows_the_whole_case_and_audits_a_hate_case_view(
    browser: Browser, accounts: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    case = await reporter_case(accounts, casework, clock)
    await browser.sign_in("amara")
    page = await browser.get(f"/console/cases/{case.reference}")
    assert page.status_code == 200
    text = page.text
    for expected in (
        "Special category data", "They shouted at me again", "said: because I am Muslim",
        "Risk of harm: <strong>high</strong>", "threats of violence", "first report",
        "door.jpg", "first contact deadline", "sms: +447700900123", "Sam Jones",
    ):
        assert expected in text, expected
    assert page.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    events = await audit_actions(accounts, case.id)
    assert events.count("case.viewed") == 1


async def test_viewing_an_everyday_case_is_not_an_audit_event(
    browser: Browser, accounts: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    case = await open_case(accounts, casework, clock.now, priority="P2", category="noise")
    await browser.sign_in("amara")
    assert (await browser.get(f"/console/cases/{case.reference}")).status_code == 200
    assert "case.viewed" not in await audit_actions(accounts, case.id)


async def test_acknowledge_then_record_first_contact_stops_the_reminders(
    browser: Browser, accounts: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    case = await reporter_case(accounts, casework, clock)
    await browser.sign_in("amara")
    await browser.get(f"/console/cases/{case.reference}")
    acked = await browser.post(f"/console/cases/{case.reference}/acknowledge")
    assert acked.status_code == 303 and acked.headers["location"].endswith("#notice")
    page = await browser.get(f"/console/cases/{case.reference}")
    assert f"{case.reference} acknowledged" in page.text

    clock.advance(timedelta(minutes=20))
    done = await browser.post(
        f"/console/cases/{case.reference}/contact",
        {"method": "phone", "note": "Spoke to Sam; <b>scared</b>"},
    )
    assert done.status_code == 303
    stored = await reload(accounts, case.id)
    assert stored.acknowledged_by == "amara" and stored.first_contact_at == clock.now
    pending = {a.kind for a in await actions(accounts) if a.case_id == case.id}
    assert not pending & {"first_contact_reminder", "first_contact_deadline"}
    page = await browser.get(f"/console/cases/{case.reference}")
    assert "Spoke to Sam; &lt;b&gt;scared&lt;/b&gt;" in page.text
    assert "Record an update given to the reporter" in page.text
    events = await audit_actions(accounts, case.id)
    assert {"alert.acknowledged", "first_contact.recorded", "contact.recorded"} <= set(events)

    # A later contact is an update to the reporter.
    clock.advance(timedelta(days=2))
    await browser.sign_in("amara")
    await browser.post(f"/console/cases/{case.reference}/contact", {"method": "text"})
    assert (await reload(accounts, case.id)).last_update_at == clock.now


async def test_the_action_plan_and_cadence_are_saved_and_reminders_follow(
    browser: Browser, accounts: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    case = await reporter_case(accounts, casework, clock, priority="P2", category="noise")
    await browser.sign_in("amara")
    await browser.get(f"/console/cases/{case.reference}")
    refused = await browser.post(
        f"/console/cases/{case.reference}/plan", {"plan": "Visit", "update_every": "7"}
    )
    assert refused.status_code == 400 and "agreed" in refused.text
    saved = await browser.post(
        f"/console/cases/{case.reference}/plan",
        {"plan": "Visit the neighbour.\nNoise diary for 2 weeks.", "update_every": "7",
         "agreed": "yes"},
    )
    assert saved.status_code == 303
    stored = await reload(accounts, case.id)
    assert stored.action_plan == "Visit the neighbour.\nNoise diary for 2 weeks."
    assert stored.update_every_days == 7 and stored.action_plan_agreed_by == "amara"
    reminder = next(a for a in await actions(accounts)
                    if a.case_id == case.id and a.kind == "update_reminder")
    assert reminder.due_at <= clock.now + timedelta(days=7)
    assert "action_plan.agreed" in await audit_actions(accounts, case.id)


async def test_a_hate_case_is_updated_at_least_fortnightly_whatever_is_chosen(
    browser: Browser, accounts: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    case = await reporter_case(accounts, casework, clock)
    await browser.sign_in("amara")
    await browser.get(f"/console/cases/{case.reference}")
    await browser.post(
        f"/console/cases/{case.reference}/plan",
        {"plan": "Patrols", "update_every": "28", "agreed": "yes"},
    )
    page = await browser.get(f"/console/cases/{case.reference}")
    assert "at least every 14 days" in page.text


async def test_a_message_goes_to_the_reporter_on_their_own_channel_through_the_outbox(
    browser: Browser, accounts: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    case = await reporter_case(accounts, casework, clock)
    await browser.sign_in("amara")
    page = await browser.get(f"/console/cases/{case.reference}")
    message_id = re.search(r'name="message_id" value="([^"]+)"', page.text)
    assert message_id is not None
    form = {"body": "I will visit on Tuesday at 10am.", "message_id": message_id.group(1)}
    first = await browser.post(f"/console/cases/{case.reference}/message", form)
    again = await browser.post(f"/console/cases/{case.reference}/message", form)
    assert first.status_code == again.status_code == 303
    [sent] = await outbox_for(accounts, case.id)  # the repeat post queued nothing more
    assert (sent.channel, sent.recipient, sent.status) == ("sms", "+447700900123", "pending")
    assert sent.identity_id is not None and sent.officer_id is None
    assert sent.body.endswith("I will visit on Tuesday at 10am.")
    assert "Amara Okafor" in sent.body and case.reference in sent.body
    assert sent.extra["reference"] == case.reference and sent.extra["group"]
    assert (await reload(accounts, case.id)).last_update_at == clock.now
    assert "reporter.messaged" in await audit_actions(accounts, case.id)


async def test_an_anonymous_reporter_cannot_be_messaged(
    browser: Browser, accounts: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    case = await open_case(accounts, casework, clock.now, anonymous=True)
    await browser.sign_in("amara")
    page = await browser.get(f"/console/cases/{case.reference}")
    assert "We cannot write to this reporter: anonymous report" in page.text
    refused = await browser.post(
        f"/console/cases/{case.reference}/message", {"body": "hello", "message_id": "x"}
    )
    assert refused.status_code == 409
    assert await outbox_for(accounts, case.id) == []


async def test_managers_assign_and_reassign_and_officers_cannot(
    browser: Browser, other_browser: Browser, accounts: Storage, casework: CaseworkContext,
    clock: Clock,
) -> None:
    case = await open_case(accounts, casework, clock.now, officer_id=None)
    await other_browser.sign_in("amara")
    assert (await other_browser.post(
        f"/console/cases/{case.reference}/assign", {"officer": "amara"}
    )).status_code == 403
    await browser.sign_in("chloe")
    await browser.get(f"/console/cases/{case.reference}")
    assert (await browser.post(
        f"/console/cases/{case.reference}/assign", {"officer": "ben"}
    )).status_code == 303
    assert (await reload(accounts, case.id)).officer_id == "ben"
    assert (await browser.post(
        f"/console/cases/{case.reference}/assign", {"officer": "dan"}
    )).status_code == 400  # a caretaker does not take cases
    async with accounts.session() as session:
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "case.assigned")
        )
    assert event is not None and event.detail == {"from": None, "to": "ben"}
    assert event.actor == "officer:chloe"


async def test_closing_confirms_in_writing_and_schedules_the_survey(
    browser: Browser, accounts: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    case = await reporter_case(accounts, casework, clock)
    await browser.sign_in("amara")
    await browser.get(f"/console/cases/{case.reference}")
    bad = await browser.post(
        f"/console/cases/{case.reference}/close", {"reason": "bored", "confirm": "yes"}
    )
    assert bad.status_code == 400
    silent = await browser.post(
        f"/console/cases/{case.reference}/close", {"reason": "no_new_reports", "confirm": "yes"}
    )
    assert silent.status_code == 409 and "never closed on silence alone" in silent.text
    closed = await browser.post(
        f"/console/cases/{case.reference}/close",
        {"reason": "resolved", "confirm": "yes", "note": "Neighbour moved out"},
    )
    assert closed.status_code == 303
    stored = await reload(accounts, case.id)
    assert (stored.status, stored.closure_reason) == ("closed", "resolved")
    [confirmation] = await outbox_for(accounts, case.id)
    assert confirmation.channel == "sms" and confirmation.recipient == "+447700900123"
    assert "closed your case" in confirmation.body
    async with accounts.session() as session:
        survey = await session.scalar(
            select(ScheduledAction).where(
                ScheduledAction.case_id == case.id, ScheduledAction.kind == "survey"
            )
        )
    assert survey is not None and survey.status == "pending"
    assert {"case.closed", "closure.note"} <= set(await audit_actions(accounts, case.id))
    page = await browser.get(f"/console/cases/{case.reference}")
    assert "Act on this case" not in page.text and "closed your case" in page.text


async def test_caretakers_see_graffiti_jobs_without_personal_data_and_mark_them_done(
    browser: Browser, accounts: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    reporter = await add_reporter(accounts)
    case = await open_case(
        accounts, casework, clock.now, reporter=reporter, priority="P1", category="graffiti",
        offensive_graffiti=True,
    )
    await change(accounts, case.reference, summary="Sam Jones at 12 Elm Court saw it")
    await browser.sign_in("dan")
    board = await browser.get("/console/jobs")
    assert board.status_code == 200 and case.reference in board.text
    assert "Offensive" in board.text and "Elm Court stairwell" in board.text
    for personal in ("Sam Jones", "+447700900123", "12 Elm Court"):
        assert personal not in board.text
    assert (await browser.get(f"/console/cases/{case.reference}")).status_code == 403
    done = await browser.post(f"/console/jobs/{case.reference}/done")
    assert done.status_code == 303
    assert (await reload(accounts, case.id)).graffiti_removed_at == clock.now
    board = await browser.get("/console/jobs")
    assert "recorded as removed" in board.text and "Removed" in board.text
    told = await outbox_for(accounts, case.id)
    assert any(m.channel == "sms" and m.recipient == "+447700900123" for m in told)


async def assignment_alerts(storage: Storage, case_id: int) -> list[OutboxMessage]:
    return [m for m in await outbox_for(storage, case_id) if ":assigned:" in m.idempotency_key]


async def test_the_newly_assigned_officer_is_alerted_and_the_history_shows_it(
    browser: Browser, accounts: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    case = await open_case(accounts, casework, clock.now)  # with amara
    await browser.sign_in("chloe")
    await browser.get(f"/console/cases/{case.reference}")
    moved = await browser.post(f"/console/cases/{case.reference}/assign", {"officer": "ben"})
    assert moved.status_code == 303
    page = await browser.get(moved.headers["location"])
    assert f"{case.reference} is now with Ben Walsh. They have been sent an alert by text message." in page.text

    [alert] = await assignment_alerts(accounts, case.id)
    assert (alert.channel, alert.recipient, alert.officer_id, alert.status) == (
        "sms", "+447700900002", "ben", "pending")
    assert alert.body.startswith(f"Chloe Patel has given you {case.reference} (from Amara Okafor)")
    assert f"Reply ACK {case.reference}" in alert.body
    assert "Ben Walsh alerted by text message" in page.text
    assert "to Ben Walsh (was Amara Okafor)" in page.text

    # Again to Olu, who is alerted on Telegram; then to the same officer: nothing new.
    await browser.post(f"/console/cases/{case.reference}/assign", {"officer": "olu"})
    same = await browser.post(f"/console/cases/{case.reference}/assign", {"officer": "olu"})
    assert same.status_code == 409 and "already with Olu Adeyemi" in same.text
    alerts = await assignment_alerts(accounts, case.id)
    assert [(m.channel, m.recipient) for m in alerts] == [
        ("sms", "+447700900002"), ("telegram", "5550001")]
    async with accounts.session() as session:
        told = (await session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == "assignment.alert_sent")
            .order_by(AuditEvent.id))).scalars().all()
    assert told == [{"officer": "ben", "channel": "sms"}, {"officer": "olu", "channel": "telegram"}]


async def test_an_email_alert_carries_the_one_click_links_and_taking_a_case_yourself_sends_none(
    browser: Browser, accounts: Storage, casework: CaseworkContext, clock: Clock
) -> None:
    case = await open_case(accounts, casework, clock.now, officer_id=None)
    await browser.sign_in("chloe")
    await browser.get(f"/console/cases/{case.reference}")
    await browser.post(f"/console/cases/{case.reference}/assign", {"officer": "amara"})
    [alert] = await assignment_alerts(accounts, case.id)
    assert (alert.channel, alert.recipient) == ("email", "amara@example.org")
    assert alert.body.startswith(f"Chloe Patel has given you {case.reference} (")
    assert "Act on it with one click:" in alert.body and "/officer/act/" in alert.body
    taken = await browser.post(f"/console/cases/{case.reference}/assign", {"officer": "chloe"})
    page = await browser.get(taken.headers["location"])
    assert f"{case.reference} is now with Chloe Patel." in page.text
    assert len(await assignment_alerts(accounts, case.id)) == 1
