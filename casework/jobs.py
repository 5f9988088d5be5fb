"""The casework jobs: one handler per kind of scheduled action (CONVENTIONS.md §4: a table).

Every handler re-reads the case and does nothing if the case has moved on (closed, first contact
made, graffiti removed, alert acknowledged), so running one twice is harmless. Messages are
queued with an idempotency key derived from the action's id and follow-ups with a dedupe key, in
the transaction that marks the action done: a re-run never sends or schedules anything twice.

Out of office hours, kinds in ``WAITS_FOR_OFFICE`` wait for the next working morning unless the
case is P1 (``policy.out_of_hours``); P1 work goes to the on-call officer at once.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any

from casework.context import JobContext, ReporterReach
from casework.plan import CaseFacts, update_interval
from casework.texts import category_words, day, when
from storage.models import Case, ChannelIdentity, Officer, ScheduledAction
from storage.repositories import PeopleRepository, SurveyRepository
from triage.taxonomy import Category, Priority

log = logging.getLogger(__name__)

Handler = Callable[[JobContext, ScheduledAction], Awaitable[None]]

SURVEY_SCALE = ("1", "2", "3", "4", "5")
"""TP12's five answers, 1 very satisfied to 5 very dissatisfied."""

FIRST_CONTACT_KINDS = ("first_contact_reminder", "first_contact_deadline", "alert_second_route")
"""What recording first contact makes pointless."""

CLOSING_CANCELS = (
    *FIRST_CONTACT_KINDS,
    "update_reminder",
    "closure_check",
    "closure_due",
    "graffiti_job",
    "graffiti_due",
)
"""What closing a case cancels (the survey is scheduled afresh)."""

_HEADLINES = {
    "hate": "alert.headline.hate",
    "emergency": "alert.headline.emergency",
    "p1 report": "alert.headline.p1",
    "partial report with a risk signal": "alert.headline.partial",
}


# --- helpers --------------------------------------------------------------------------------


def _key(action: ScheduledAction, purpose: str) -> str:
    return f"casework:{action.id}:{purpose}"


def _moment(payload: dict[str, Any], name: str) -> datetime | None:
    value = payload.get(name)
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def headline(ctx: JobContext, reason: object) -> str:
    """The alert's first words, from the reason intake gave for it."""
    key = _HEADLINES.get(str(reason or "").strip().lower(), "alert.headline.other")
    return ctx.texts.text(key)


def _case_words(ctx: JobContext, case: Case) -> dict[str, str]:
    words = ctx.case_words.get(case.id)
    if words is None:
        words = ctx.case_words[case.id] = {
            "reference": case.reference,
            "priority": case.priority,
            "category": category_words(case.category),
            "area": f", {case.area_code}" if case.area_code else "",
            "received": when(ctx.calendar, case.received_at),
            "deadline": when(ctx.calendar, case.deadline_at),
            "landlord": ctx.casework.landlord,
        }
    return words


def _is_open(case: Case | None) -> bool:
    return case is not None and case.status == "open"


def _contact_made(case: Case) -> bool:
    return case.first_contact_at is not None


def _names(officers: list[Officer]) -> str:
    return ", ".join(o.name for o in officers)


async def _officer_name(ctx: JobContext, officer_id: str | None, fallback: str) -> str:
    officer = await ctx.officer(officer_id)
    return officer.name if officer is not None else fallback


# --- alerts (R-02, R-04) ----------------------------------------------------------------------


async def alert_officer(ctx: JobContext, action: ScheduledAction) -> None:
    """Alert at once: the case officer in office hours, the on-call officer out of hours.

    A second route follows after ``policy.alerts.second_route_after`` unless someone
    acknowledges it (ACK) or records first contact first.
    """
    case = await ctx.case(action.case_id)
    if case is None or case.status == "closed" or case.acknowledged_at or _contact_made(case):
        return
    reason = action.payload.get("reason")
    words = {**_case_words(ctx, case), "headline": headline(ctx, reason)}
    officers = await ctx.officers_for(case, urgent=True)
    out_of_hours = not ctx.office_open()
    text_key = "officer.alert.on_call" if out_of_hours else "officer.alert"
    for officer in officers:
        ctx.tell_officer(
            officer,
            _key(action, "alert"),
            ctx.texts.text(text_key, **words),
            case=case,
            subject=ctx.texts.text("officer.alert.subject", **words),
            links=("ack", "contacted"),
        )
    ctx.audit(
        "alert.sent",
        case_id=case.id,
        detail={
            "reason": reason,
            "officers": [o.id for o in officers],
            "out_of_hours": out_of_hours,
        },
    )
    if not officers:
        log.error("no officer to alert about %s: the team has nobody active", case.reference)
    ctx.schedule(
        "alert_second_route",
        ctx.now + ctx.policy.alerts.second_route_after.as_timedelta(),
        case_id=case.id,
        dedupe_key=f"{case.reference}:alert:{action.id}:level:1",
        payload={
            "level": 1,
            "alert_id": action.id,
            "reason": reason,
            "officers": [o.id for o in officers],
            "sent_at": ctx.now.isoformat(),
        },
    )
    await review_if_qualifies(ctx, case)


async def alert_second_route(ctx: JobContext, action: ScheduledAction) -> None:
    """The alert was not acknowledged in time: level 1 tries the officer's other contact and
    the on-call officer; level 2 (as long again) the manager."""
    case = await ctx.case(action.case_id)
    if case is None or case.status == "closed" or case.acknowledged_at or _contact_made(case):
        return
    payload = action.payload
    level = int(payload.get("level", 1))
    sent_at = _moment(payload, "sent_at") or action.created_at
    alerted_ids = [str(i) for i in payload.get("officers", [])]
    alerted = [o for o in [await ctx.officer(i) for i in alerted_ids] if o is not None]
    words = {
        **_case_words(ctx, case),
        "headline": headline(ctx, payload.get("reason")),
        "officer": _names(alerted) or ctx.texts.text("nobody"),
        "sent": when(ctx.calendar, sent_at),
    }
    reached: list[str] = []
    if level == 1:
        text = ctx.texts.text("officer.alert.second_route", **words)
        subject = ctx.texts.text("officer.alert.second_route.subject", **words)
        for officer in alerted:
            if ctx.tell_officer(
                officer,
                _key(action, "other-contact"),
                text,
                case=case,
                subject=subject,
                route=1,
                links=("ack", "contacted"),
            ):
                reached.append(f"{officer.id}:other-contact")
        on_call = await ctx.on_call()
        if on_call is not None and on_call.id not in alerted_ids:
            ctx.tell_officer(
                on_call,
                _key(action, "on-call"),
                text,
                case=case,
                subject=subject,
                links=("ack", "contacted"),
            )
            reached.append(on_call.id)
        if reached:
            ctx.schedule(
                "alert_second_route",
                ctx.now + ctx.policy.alerts.second_route_after.as_timedelta(),
                case_id=case.id,
                dedupe_key=f"{case.reference}:alert:{payload.get('alert_id', action.id)}:level:2",
                payload={
                    **payload,
                    "level": 2,
                    "officers": [*alerted_ids, *(r for r in reached if ":" not in r)],
                },
            )
    if level >= 2 or not reached:
        text = ctx.texts.text("officer.alert.manager", **words)
        subject = ctx.texts.text("officer.alert.manager.subject", **words)
        for manager in await ctx.managers():
            if manager.id not in alerted_ids:
                ctx.tell_officer(
                    manager,
                    _key(action, "manager"),
                    text,
                    case=case,
                    subject=subject,
                    links=("ack",),
                )
                reached.append(manager.id)
    first = await ctx.uow.outbox.by_key(
        f"casework:{payload.get('alert_id')}:alert:{alerted_ids[0]}:0" if alerted_ids else ""
    )
    ctx.audit(
        "alert.escalated",
        case_id=case.id,
        detail={
            "level": level,
            "to": reached,
            "first_alert": first.status if first is not None else "not found",
        },
    )


# --- first contact (R-04, R-17) ----------------------------------------------------------------


async def first_contact_reminder(ctx: JobContext, action: ScheduledAction) -> None:
    """Remind the officer before the first-contact deadline (or when a SNOOZE runs out)."""
    case = await ctx.case(action.case_id)
    if not _is_open(case) or case is None or _contact_made(case):
        return
    if case.deadline_at is not None and case.deadline_at <= ctx.now:
        return  # too late to remind: the deadline job escalates
    snoozed_by = await ctx.officer(action.payload.get("snoozed_by"))
    officers = [snoozed_by] if snoozed_by is not None else await ctx.officers_for(case)
    words = _case_words(ctx, case)
    for officer in officers:
        ctx.tell_officer(
            officer,
            _key(action, "reminder"),
            ctx.texts.text("officer.reminder", **words),
            case=case,
            subject=ctx.texts.text("officer.reminder.subject", **words),
            links=("contacted",),
        )


async def first_contact_deadline(ctx: JobContext, action: ScheduledAction) -> None:
    """At the deadline: if no first contact was recorded by then, it is a breach: the manager
    is told (and the on-call officer for P1 out of hours) and the breach is audited."""
    case = await ctx.case(action.case_id)
    if not _is_open(case) or case is None:
        return
    deadline = case.deadline_at or _moment(action.payload, "deadline")
    if deadline is None:
        return
    if case.first_contact_at is not None and case.first_contact_at <= deadline:
        return
    if deadline > ctx.now:
        ctx.reschedule(action, deadline, "the deadline moved later")
        return
    words = {
        **_case_words(ctx, case),
        "deadline": when(ctx.calendar, deadline),
        "officer": await _officer_name(ctx, case.officer_id, ctx.texts.text("nobody")),
    }
    subject = ctx.texts.text("officer.breach.subject", **words)
    told: list[str] = []
    escalate_to = await ctx.managers()
    if ctx.urgent(case) and not ctx.office_open():
        on_call = await ctx.on_call()
        if on_call is not None:
            escalate_to.append(on_call)
    for officer in dict.fromkeys(escalate_to):
        ctx.tell_officer(
            officer,
            _key(action, "breach"),
            ctx.texts.text("officer.breach.manager", **words),
            case=case,
            subject=subject,
        )
        told.append(officer.id)
    case_officer = await ctx.officer(case.officer_id)
    if case_officer is not None and case_officer.id not in told:
        ctx.tell_officer(
            case_officer,
            _key(action, "breach"),
            ctx.texts.text("officer.breach.officer", **words),
            case=case,
            subject=subject,
            links=("contacted",),
        )
        told.append(case_officer.id)
    ctx.audit(
        "first_contact.breached",
        case_id=case.id,
        detail={
            "deadline": deadline.isoformat(),
            "priority": case.priority,
            "officer": case.officer_id,
            "escalated_to": told,
        },
    )


# --- graffiti (R-11) --------------------------------------------------------------------------


async def _caretakers(ctx: JobContext, case: Case) -> list[Officer]:
    everyone = [o for o in (await ctx.officers()).values() if o.active and o.role == "caretaker"]
    local = [o for o in everyone if case.area_code is not None and case.area_code in o.areas]
    return local or [o for o in everyone if not o.areas] or everyone


def _graffiti_words(ctx: JobContext, case: Case, action_payload: dict[str, Any]) -> dict[str, str]:
    target = _moment(action_payload, "due_at")
    offensive = bool(action_payload.get("offensive"))
    rule = ctx.policy.graffiti.offensive if offensive else ctx.policy.graffiti.other
    kind = ctx.texts.text(
        "graffiti.kind.offensive" if offensive else "graffiti.kind.other", target_rule=str(rule)
    )
    return {
        **_case_words(ctx, case),
        "target": when(ctx.calendar, target),
        "kind": kind,
        "location": case.location or case.summary or "-",
    }


async def _tell_caretaking(
    ctx: JobContext, case: Case, key: str, body: str, subject: str
) -> list[str]:
    caretakers = await _caretakers(ctx, case)
    for caretaker in caretakers:
        ctx.tell_officer(caretaker, key, body, case=case, subject=subject, links=("done",))
    if caretakers:
        return [c.id for c in caretakers]
    mailbox = ctx.casework.team.caretaking_email
    if mailbox:
        ctx.tell_address("email", mailbox, f"{key}:caretaking", body, case=case, subject=subject)
        return [mailbox]
    for manager in await ctx.managers():
        ctx.tell_officer(manager, key, body, case=case, subject=subject)
    return [m.id for m in await ctx.managers()]


async def graffiti_job(ctx: JobContext, action: ScheduledAction) -> None:
    """Send the removal job to the caretaking team with its target, and check at the target."""
    case = await ctx.case(action.case_id)
    if case is None or case.status == "closed" or case.graffiti_removed_at is not None:
        return
    words = _graffiti_words(ctx, case, action.payload)
    to = await _tell_caretaking(
        ctx,
        case,
        _key(action, "graffiti-job"),
        ctx.texts.text("caretaking.job", **words),
        ctx.texts.text("caretaking.job.subject", **words),
    )
    target = _moment(action.payload, "due_at")
    if target is not None:
        ctx.schedule(
            "graffiti_due",
            target,
            case_id=case.id,
            dedupe_key=f"{case.reference}:graffiti_due",
            payload=dict(action.payload),
        )
    ctx.audit(
        "graffiti.job_sent",
        case_id=case.id,
        detail={"to": to, "target": action.payload.get("due_at"), **_offensive(action)},
    )


def _offensive(action: ScheduledAction) -> dict[str, bool]:
    return {"offensive": bool(action.payload.get("offensive"))}


async def graffiti_due(ctx: JobContext, action: ScheduledAction) -> None:
    """At the target: not reported removed, so remind the caretakers and tell the manager."""
    case = await ctx.case(action.case_id)
    if case is None or case.status == "closed" or case.graffiti_removed_at is not None:
        return
    words = _graffiti_words(ctx, case, action.payload)
    await _tell_caretaking(
        ctx,
        case,
        _key(action, "graffiti-overdue"),
        ctx.texts.text("caretaking.overdue", **words),
        ctx.texts.text("caretaking.overdue.subject", **words),
    )
    for manager in await ctx.managers():
        ctx.tell_officer(
            manager,
            _key(action, "graffiti-missed"),
            ctx.texts.text("manager.graffiti_overdue", **words),
            case=case,
            subject=ctx.texts.text("caretaking.overdue.subject", **words),
        )
    ctx.audit("graffiti.target_missed", case_id=case.id, detail=_offensive(action))


# --- updates to the reporter (R-09) -------------------------------------------------------------


def cadence(ctx: JobContext, case: Case) -> timedelta:
    """How often this reporter must be updated (as agreed; hate at least every 14 days)."""
    facts = CaseFacts(
        reference=case.reference,
        priority=Priority(case.priority),
        category=Category(case.category),
        received_at=case.received_at,
        deadline_at=case.deadline_at or case.received_at,
        hate=case.hate,
        anonymous=case.anonymous,
        update_every_days=case.update_every_days,
    )
    return update_interval(facts, ctx.policy)


_SEQUENCE = re.compile(r":update_reminder:(\d+)$")


async def update_reminder(ctx: JobContext, action: ScheduledAction) -> None:
    """Remind the officer to update the reporter, then schedule the next reminder.

    Counts from the last recorded update (UPDATED), so an officer who keeps to the cadence is
    never nagged; after downtime it fires once and the next one counts from now (coalesced).
    """
    case = await ctx.case(action.case_id)
    if not _is_open(case) or case is None or case.anonymous:
        return
    every = cadence(ctx, case)
    if case.last_update_at is not None and case.last_update_at + every > ctx.now:
        ctx.reschedule(action, case.last_update_at + every, "updated since it was scheduled")
        return
    words = {
        **_case_words(ctx, case),
        "days": str(every.days),
        "last": when(ctx.calendar, case.last_update_at)
        if case.last_update_at
        else ctx.texts.text("never"),
    }
    for officer in await ctx.officers_for(case):
        ctx.tell_officer(
            officer,
            _key(action, "update-due"),
            ctx.texts.text("officer.update_due", **words),
            case=case,
            subject=ctx.texts.text("officer.update_due.subject", **words),
        )
    match = _SEQUENCE.search(action.dedupe_key or "")
    following = f"{int(match.group(1)) + 1}" if match else f"after-{action.id}"
    ctx.schedule(
        "update_reminder",
        ctx.now + every,
        case_id=case.id,
        dedupe_key=f"{case.reference}:update_reminder:{following}",
    )


# --- ASB Case Review (R-12) ---------------------------------------------------------------------


async def review_if_qualifies(ctx: JobContext, case: Case) -> bool:
    """Flag the case for an ASB Case Review when it qualifies (policy.case_review: N incidents
    within the window, or high risk) and tell the reporter of their right to one, once.

    Returns:
        True if the case was flagged now.
    """
    if case.case_review_flag or case.status != "open":
        return False
    rule = ctx.policy.case_review
    count = await ctx.incidents_since(case.id, ctx.calendar.before(ctx.now, rule.within))
    if count >= rule.incidents:
        why = ctx.texts.text("review.why.repeat", count=count, window=str(rule.within))
    elif rule.high_risk_qualifies and case.risk_level == "high":
        why = ctx.texts.text("review.why.high_risk")
    else:
        return False
    case.case_review_flag = True
    case.updated_at = ctx.now
    words = {**_case_words(ctx, case), "why": why}
    reach = await ctx.reporter(case)
    for route in reach.routes[:1]:
        ctx.tell_reporter(
            route,
            f"case-review:{case.id}",
            [ctx.texts.text("reporter.case_review", **words)],
            case=case,
        )
    for officer in await ctx.officers_for(case):
        ctx.tell_officer(
            officer,
            f"case-review:{case.id}",
            ctx.texts.text("officer.case_review", **words),
            case=case,
            subject=ctx.texts.text("officer.case_review.subject", **words),
        )
    ctx.audit(
        "case_review.flagged",
        case_id=case.id,
        detail={
            "incidents": count,
            "why": why,
            "reporter_told": bool(reach.routes),
            "unreachable": reach.unreachable,
        },
    )
    return True


async def incident_added(ctx: JobContext, action: ScheduledAction) -> None:
    """A new incident on an open case (R-10): check the ASB Case Review threshold (R-12)."""
    case = await ctx.case(action.case_id)
    if _is_open(case) and case is not None:
        await review_if_qualifies(ctx, case)


# --- closure and survey (R-14) -----------------------------------------------------------


async def closure_check(ctx: JobContext, action: ScheduledAction) -> None:
    """No new reports for ``policy.closure.no_new_reports_after``: ask the reporter, on as
    many channels as the policy wants methods tried, whether it is still going on; the
    officer is asked to decide after ``closure.wait_for_reply``. Never closes anything."""
    case = await ctx.case(action.case_id)
    if not _is_open(case) or case is None:
        return
    rules = ctx.policy.closure
    last = await ctx.uow.cases.last_incident_at(case.id) or case.received_at
    quiet_until = ctx.calendar.deadline(max(last, case.received_at), rules.no_new_reports_after)
    if quiet_until > ctx.now:
        ctx.reschedule(action, quiet_until, "new reports since it was scheduled")
        return
    reach = await ctx.reporter(case, methods=rules.contact_methods_before_closing)
    words = {**_case_words(ctx, case), "days": _days(rules.no_new_reports_after)}
    for route in reach.routes:
        ctx.tell_reporter(
            route,
            _key(action, f"closure-check:{route.channel}"),
            [ctx.texts.text("reporter.closure_check", **words)],
            case=case,
        )
    ctx.schedule(
        "closure_due",
        ctx.calendar.deadline(ctx.now, rules.wait_for_reply),
        case_id=case.id,
        dedupe_key=f"{case.reference}:closure_due:{action.id}",
        payload={
            "asked_at": ctx.now.isoformat(),
            "methods": [route.channel for route in reach.routes],
            "routes": [[route.channel, route.address] for route in reach.routes],
            "unreachable": reach.unreachable,
        },
    )
    ctx.audit(
        "closure.check_sent",
        case_id=case.id,
        detail={"methods": [r.channel for r in reach.routes], "unreachable": reach.unreachable},
    )


def _days(duration: Any) -> str:
    try:
        return str(duration.as_timedelta().days)
    except ValueError:
        return str(duration)


async def _reporter_addresses(ctx: JobContext, case: Case) -> set[tuple[str, str]]:
    addresses: set[tuple[str, str]] = set()
    people = PeopleRepository(ctx.uow.session)
    primary = (
        await ctx.uow.session.get(ChannelIdentity, case.reporter_identity_id)
        if case.reporter_identity_id is not None
        else None
    )
    for person_id in {p for p in (case.reporter_id, primary.person_id if primary else None) if p}:
        addresses |= {(i.channel, i.address) for i in await people.identities_of(person_id)}
    if primary is not None:
        addresses.add((primary.channel, primary.address))
    return addresses


async def closure_due(ctx: JobContext, action: ScheduledAction) -> None:
    """After the closure check: if the reporter answered or reported again, the case stays
    open and the quiet period starts again; otherwise the officer is asked to decide, told
    whether enough contact methods were tried (R-13: never closed on silence alone)."""
    case = await ctx.case(action.case_id)
    if not _is_open(case) or case is None:
        return
    payload = action.payload
    asked_at = _moment(payload, "asked_at") or action.created_at
    rules = ctx.policy.closure
    senders = await _reporter_addresses(ctx, case)
    senders |= {(str(c), str(a)) for c, a in payload.get("routes", [])}
    last_incident = await ctx.uow.cases.last_incident_at(case.id)
    replied = await ctx.uow.inbound.count_from(senders, asked_at) > 0 or (
        last_incident is not None and last_incident > asked_at
    )
    methods = [str(m) for m in payload.get("methods", [])]
    words = {
        **_case_words(ctx, case),
        "days": _days(rules.no_new_reports_after),
        "asked": day(ctx.calendar, asked_at),
        "methods": " and ".join(methods),
    }
    if replied:
        text_key = "officer.closure_due.replied"
        ctx.schedule(
            "closure_check",
            ctx.calendar.deadline(ctx.now, rules.no_new_reports_after),
            case_id=case.id,
            dedupe_key=f"{case.reference}:closure_check:after:{action.id}",
        )
    elif payload.get("unreachable"):
        why = ctx.texts.text(f"unreachable.{payload['unreachable']}")
        text_key, words = "officer.closure_due.unreachable", {**words, "why": why}
    elif len(methods) < rules.contact_methods_before_closing:
        text_key = "officer.closure_due.one_method"
    else:
        text_key = "officer.closure_due"
    for officer in await ctx.officers_for(case):
        ctx.tell_officer(
            officer,
            _key(action, "closure-due"),
            ctx.texts.text(text_key, **words),
            case=case,
            subject=ctx.texts.text("officer.closure_due.subject", **words),
        )
    ctx.audit(
        "closure.reporter_replied" if replied else "closure.decision_due",
        case_id=case.id,
        detail={"methods": methods, "unreachable": payload.get("unreachable")},
    )


async def close_case(
    ctx: JobContext, case: Case, reason: str, *, actor: str
) -> ReporterReach | None:
    """Close a case for one of the policy's reasons, cancel its follow-ups, confirm it to the
    reporter in writing (when the policy says so) and schedule the satisfaction survey.

    Returns:
        Where the confirmation went (None when the policy does not confirm in writing).

    Raises:
        ValueError: the reason is not one of ``policy.closure.reasons``.
    """
    rules = ctx.policy.closure
    if reason not in rules.reasons:
        raise ValueError(f"closure reason must be one of {', '.join(rules.reasons)}")
    case.status, case.closed_at, case.closure_reason = "closed", ctx.now, reason
    case.updated_at = ctx.now
    await ctx.uow.actions.cancel_pending(
        case.id, CLOSING_CANCELS, ctx.now, reason=f"case closed ({reason})"
    )
    reach: ReporterReach | None = None
    if rules.confirm_in_writing:
        reach = await ctx.reporter(case)
        words = {
            **_case_words(ctx, case),
            "reason": ctx.texts.text(f"closure.reason.{reason}")
            if ctx.texts.has(f"closure.reason.{reason}")
            else reason.replace("_", " "),
        }
        for route in reach.routes[:1]:
            ctx.tell_reporter(
                route,
                f"closed:{case.id}:{ctx.now.isoformat()}",
                [ctx.texts.text("reporter.closed", **words)],
                case=case,
            )
    if ctx.policy.survey.enabled:
        ctx.schedule(
            "survey",
            ctx.calendar.deadline(ctx.now, ctx.policy.survey.delay),
            case_id=case.id,
            dedupe_key=f"{case.reference}:survey",
        )
    ctx.audit(
        "case.closed",
        case_id=case.id,
        actor=actor,
        detail={
            "reason": reason,
            "confirmed_in_writing": bool(reach and reach.routes),
            "unreachable": reach.unreachable if reach else None,
        },
    )
    return reach


async def survey(ctx: JobContext, action: ScheduledAction) -> None:
    """The satisfaction survey after closure (R-14), worded as TP12, on the reporter's own
    channel; the answer is read back by ``casework.survey.record_survey_answer``."""
    case = await ctx.case(action.case_id)
    if case is None or case.status != "closed" or not ctx.policy.survey.enabled:
        return
    reach = await ctx.reporter(case, primary_only=True)
    if not reach.routes:
        ctx.audit("survey.not_sent", case_id=case.id, detail={"why": reach.unreachable})
        return
    route = reach.routes[0]
    asked = await SurveyRepository(ctx.uow.session).ask(
        case.id, identity_id=route.identity_id, channel=route.channel, asked_at=ctx.now
    )
    if not asked:
        return  # this case has had its survey
    words = _case_words(ctx, case)
    ctx.tell_reporter(
        route,
        _key(action, "survey"),
        [
            ctx.texts.text("reporter.survey.intro", **words),
            ctx.texts.text("reporter.survey.question", **words),
        ],
        case=case,
        options=[(n, ctx.texts.text(f"survey.option.{n}")) for n in SURVEY_SCALE],
    )
    ctx.audit("survey.sent", case_id=case.id, detail={"channel": route.channel})


# --- flags and callbacks --------------------------------------------------------------------------


async def callback_request(ctx: JobContext, action: ScheduledAction) -> None:
    """A reporter asked for a person (HUMAN): the case officer, or the on-call officer."""
    case = await ctx.case(action.case_id)
    payload = action.payload
    contact = str(payload.get("number") or "").strip()
    if not contact and payload.get("identity_id") is not None:
        identity = await ctx.uow.session.get(ChannelIdentity, int(payload["identity_id"]))
        if identity is not None:
            contact = f"{identity.address} ({identity.channel})"
    words = {
        "for_case": ctx.texts.text("for_case", reference=case.reference) if case else "",
        "contact": contact or "-",
    }
    for officer in await ctx.officers_for(case):
        ctx.tell_officer(
            officer,
            _key(action, "callback"),
            ctx.texts.text("officer.callback", **words),
            case=case,
            subject=ctx.texts.text("officer.callback.subject", **words),
        )


async def officer_flag(ctx: JobContext, action: ScheduledAction) -> None:
    """Something a person must look at (a report that could not be processed, a message that
    could not be delivered, an advocate without consent)."""
    case = await ctx.case(action.case_id)
    words = {
        "for_case": ctx.texts.text("for_case", reference=case.reference) if case else "",
        "reason": str(action.payload.get("reason") or "-"),
    }
    for officer in await ctx.officers_for(case):
        ctx.tell_officer(
            officer,
            _key(action, "flag"),
            ctx.texts.text("officer.flag", **words),
            case=case,
            subject=ctx.texts.text("officer.flag.subject", **words),
        )


# --- digests and figures (R-16, R-17) -------------------------------------------------------------


def _local_date(ctx: JobContext) -> date:
    return ctx.calendar.local(ctx.now).date()


async def officer_digest(ctx: JobContext, action: ScheduledAction) -> None:
    """Each officer's morning list: overdue and due first contacts, unacknowledged alerts,
    updates due and case review flags. Officers with nothing to do get nothing."""
    today = _local_date(ctx)
    by_officer: dict[str, list[Case]] = defaultdict(list)
    for case in await ctx.uow.cases.open_cases():
        if case.officer_id is not None:
            by_officer[case.officer_id].append(case)
    for officer_id, cases in sorted(by_officer.items()):
        officer = await ctx.officer(officer_id)
        if officer is None:
            continue
        lines = [line for case in cases for line in _digest_lines(ctx, case, today)]
        if not lines:
            continue
        head = ctx.texts.text(
            "digest.header", name=officer.name, open=len(cases), date=day(ctx.calendar, ctx.now)
        )
        ctx.tell_officer(
            officer,
            f"digest:{today.isoformat()}",
            "\n".join([head, *lines]),
            subject=ctx.texts.text("digest.subject", date=day(ctx.calendar, ctx.now)),
        )


def _digest_lines(ctx: JobContext, case: Case, today: date) -> list[str]:
    words = _case_words(ctx, case)
    lines: list[str] = []
    if not _contact_made(case) and case.deadline_at is not None:
        if case.deadline_at <= ctx.now:
            lines.append(ctx.texts.text("digest.line.overdue", **words))
        elif ctx.calendar.local(case.deadline_at).date() == today:
            lines.append(ctx.texts.text("digest.line.due", **words))
        if case.priority == Priority.P1.value and case.acknowledged_at is None:
            lines.append(ctx.texts.text("digest.line.unacknowledged", **words))
    if not case.anonymous and case.priority != Priority.P3.value:
        last = case.last_update_at or case.received_at
        if last + cadence(ctx, case) <= ctx.now + timedelta(days=1):
            lines.append(ctx.texts.text("digest.line.update", **words))
    if case.case_review_flag:
        lines.append(ctx.texts.text("digest.line.review", **words))
    return lines


REVIEW_LINES_MAX = 40
"""Lines per section of the review digest; the console has the rest."""


async def review_digest(ctx: JobContext, action: ScheduledAction) -> None:
    """The managers' fortnightly review of open cases (R-17): breaches, silence towards the
    reporter, case review flags, unallocated and long-open cases."""
    cases = list(await ctx.uow.cases.open_cases())
    officers = await ctx.officers()
    lines: list[str] = []
    resolve = ctx.policy.performance.resolve_within
    for case in cases:
        words = {
            **_case_words(ctx, case),
            "officer": officers[case.officer_id].name
            if case.officer_id in officers
            else ctx.texts.text("nobody"),
        }
        contact = case.first_contact_at
        if (
            case.deadline_at is not None
            and case.deadline_at <= ctx.now
            and (contact is None or contact > case.deadline_at)
        ):
            lines.append(ctx.texts.text("review_digest.line.breached", **words))
        if case.officer_id is None:
            lines.append(ctx.texts.text("review_digest.line.unallocated", **words))
        silent = ctx.now - (case.last_update_at or case.received_at)
        if not case.anonymous and case.priority != "P3" and silent > cadence(ctx, case):
            lines.append(ctx.texts.text("review_digest.line.no_update", **words, days=silent.days))
        if case.case_review_flag:
            lines.append(ctx.texts.text("review_digest.line.review", **words))
        if resolve is not None and ctx.calendar.deadline(case.received_at, resolve) <= ctx.now:
            lines.append(
                ctx.texts.text(
                    "review_digest.line.old", **words, days=(ctx.now - case.received_at).days
                )
            )
    if len(lines) > REVIEW_LINES_MAX:
        lines = [*lines[:REVIEW_LINES_MAX], f"... and {len(lines) - REVIEW_LINES_MAX} more"]
    totals: dict[str, object] = {
        "date": day(ctx.calendar, ctx.now),
        "open": len(cases),
        "hate": sum(c.hate for c in cases),
        "p1": sum(c.priority == "P1" for c in cases),
        "flags": sum(c.case_review_flag for c in cases),
    }
    body = "\n".join(
        [ctx.texts.text("review_digest.header", **totals)]
        + (lines or [ctx.texts.text("review_digest.none")])
    )
    for manager in await ctx.managers():
        ctx.tell_officer(
            manager,
            _key(action, "review"),
            body,
            subject=ctx.texts.text("review_digest.subject", **totals),
        )
    ctx.audit("review.digest_sent", case_id=None, detail={"open": len(cases), "lines": len(lines)})


async def monthly_figures(ctx: JobContext, action: ScheduledAction) -> None:
    """Last month's headline figures (R-16; NM01 per 1,000 homes), kept as an audit event
    until the console's monthly report takes this over."""
    month = str(action.payload.get("month") or "")
    try:
        first = datetime.strptime(month + "-01", "%Y-%m-%d").date()
    except ValueError:
        first = _local_date(ctx).replace(day=1)
    start = datetime(first.year, first.month, 1, tzinfo=ctx.calendar.zone)
    following = datetime(
        first.year + first.month // 12, first.month % 12 + 1, 1, tzinfo=ctx.calendar.zone
    )
    cases = [c for c in await ctx.uow.cases.received_between(start, following) if not c.not_asb]
    homes = ctx.policy.performance.homes
    with_deadline = [c for c in cases if c.deadline_at is not None]
    on_time = [
        c
        for c in with_deadline
        if c.first_contact_at is not None
        and c.deadline_at is not None
        and c.first_contact_at <= c.deadline_at
    ]
    ctx.audit(
        "figures.monthly",
        case_id=None,
        detail={
            "month": f"{first:%Y-%m}",
            "cases": len(cases),
            "hate_cases": sum(c.hate for c in cases),
            "cases_per_1000_homes": round(len(cases) * 1000 / homes, 2),
            "hate_cases_per_1000_homes": round(sum(c.hate for c in cases) * 1000 / homes, 2),
            "first_contact_on_time": len(on_time),
            "first_contact_due": len(with_deadline),
        },
    )


# --- the table ------------------------------------------------------------------------------------

HANDLERS: dict[str, Handler] = {
    "alert_officer": alert_officer,
    "alert_second_route": alert_second_route,
    "first_contact_reminder": first_contact_reminder,
    "first_contact_deadline": first_contact_deadline,
    "graffiti_job": graffiti_job,
    "graffiti_due": graffiti_due,
    "update_reminder": update_reminder,
    "incident_added": incident_added,
    "closure_check": closure_check,
    "closure_due": closure_due,
    "survey": survey,
    "callback_request": callback_request,
    "officer_flag": officer_flag,
    "officer_digest": officer_digest,
    "review_digest": review_digest,
    "monthly_figures": monthly_figures,
}
"""Every kind casework owns. Other kinds (``conversation_idle``) belong to intake."""

WAITS_FOR_OFFICE = frozenset(
    {
        "first_contact_reminder",
        "first_contact_deadline",
        "graffiti_job",
        "graffiti_due",
        "update_reminder",
        "incident_added",
        "closure_check",
        "closure_due",
        "survey",
        "callback_request",
        "officer_flag",
    }
)
"""Kinds that, out of office hours, wait for the next working morning unless the case is P1.
Alerts never wait; digests and figures are scheduled in office hours by the duties."""
