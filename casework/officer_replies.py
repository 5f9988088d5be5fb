"""Officers act from the alert itself: a reply word and the case reference on SMS, Telegram or
email ("ACK ASB-2026-000123", "CONTACTED ASB-2026-000123", "SNOOZE ASB-2026-000123 2h",
"DONE ASB-2026-000123"), or a signed one-click link in an email alert.

Words are a table (CONVENTIONS.md §4). Each command re-reads the case, checks the officer may
act on it (its officer, the on-call officer, a manager; caretakers may mark graffiti done),
changes it, cancels the follow-ups it makes pointless and records an audit event, all in the
caller's transaction. Commands are idempotent: a second ACK says who acknowledged it first.

A reply comes from an address the channel vouches for, no more: an SMS sender or email From
can be forged where the channel does not authenticate it, so these words only ever move a case
forward (acknowledge, record contact, snooze within the deadline, mark a job done, close with a
reason) and every use is audited with the officer and the time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from casework.context import MANAGER_ROLES, CaseworkContext, JobContext
from casework.jobs import FIRST_CONTACT_KINDS, cadence, close_case
from casework.texts import when
from storage.models import Case, Officer
from storage.repositories import officer_address
from storage.uow import UnitOfWork

REFERENCE_RE = re.compile(r"\bASB[-\s]?(\d{4})[-\s]?(\d{1,6})\b", re.IGNORECASE)

WORDS: dict[str, str] = {
    "ACK": "ack",
    "ACKNOWLEDGE": "ack",
    "ACKNOWLEDGED": "ack",
    "SEEN": "ack",
    "TAKING": "ack",
    "CONTACTED": "contacted",
    "CONTACT": "contacted",
    "SPOKE": "contacted",
    "SNOOZE": "snooze",
    "LATER": "snooze",
    "DONE": "done",
    "REMOVED": "done",
    "CLEANED": "done",
    "UPDATED": "updated",
    "CLOSE": "close",
    "HELP": "help",
    "?": "help",
}
"""Reply words (upper case) and the command each means."""

SNOOZE_DEFAULT = timedelta(hours=1)
SNOOZE_LONGEST = timedelta(days=1)
_SNOOZE_RE = re.compile(r"(\d+)\s*(m|min|mins|minutes?|h|hr|hrs|hours?|d|days?)\b", re.IGNORECASE)
_SNOOZE_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


@dataclass(frozen=True)
class OfficerCommand:
    """A reply word understood: the command, the case and anything after them."""

    verb: str
    reference: str | None
    rest: str = ""


def parse_officer_reply(text: str, reference: str | None = None) -> OfficerCommand | None:
    """Read the first line an officer wrote (quoted email lines skipped).

    Args:
        text: the message text.
        reference: a case reference the channel found elsewhere (an email subject), used when
            the text has none.

    Returns:
        The command, or None if the line does not start with a reply word.
    """
    line = next(
        (
            stripped
            for raw in text.splitlines()
            if (stripped := raw.strip()) and not stripped.startswith(">")
        ),
        "",
    )
    if not line:
        return None
    first, _, _ = line.partition(" ")
    verb = WORDS.get(first.lstrip("/").rstrip(".,:!").upper())
    if verb is None:
        return None
    match = REFERENCE_RE.search(line)
    found = _normalise(match) if match else (reference.strip().upper() if reference else None)
    rest = line[len(first) :]
    if match:
        rest = rest.replace(match.group(0), " ")
    return OfficerCommand(verb, found, " ".join(rest.split()))


def _normalise(match: re.Match[str]) -> str:
    return f"ASB-{match.group(1)}-{int(match.group(2)):06d}"


async def find_officer(uow: UnitOfWork, channel: str, address: str) -> Officer | None:
    """The active officer writing from ``address`` on ``channel``, if it is one of ours."""
    return await uow.officers.by_address(channel, address)


class OfficerAddresses:
    """Is this sender an officer? Asked of every inbound message, so answered from memory:
    the active officers' addresses, read again at most every ``refresh`` seconds (the team
    changes by config or ``intake users``, rarely). Only a match is looked up in the database,
    which has the last word (an officer made inactive a moment ago is not one)."""

    def __init__(
        self, refresh: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.refresh = refresh
        self._clock = clock
        self._known: frozenset[tuple[str, str | int]] | None = None
        self._read_at = 0.0

    async def find(self, uow: UnitOfWork, channel: str, address: str) -> Officer | None:
        """The active officer writing from ``address`` on ``channel``, if it is one of ours."""
        key = officer_address(channel, address)
        if key is None:
            return None
        now = self._clock()
        if self._known is None or now - self._read_at >= self.refresh:
            self._known, self._read_at = await uow.officers.addresses(), now
        if key not in self._known:
            return None
        return await uow.officers.by_address(channel, address)


async def handle_officer_reply(
    uow: UnitOfWork,
    officer: Officer,
    text: str,
    now: datetime,
    *,
    casework: CaseworkContext,
    reference: str | None = None,
) -> str | None:
    """Act on a message from an officer's known address; returns the answer to send back.

    Anything that is not a reply word gets the list of words, so an officer's message is never
    mistaken for a new report. Runs in the caller's unit of work (one transaction with the
    inbound message).

    Args:
        uow: the caller's unit of work.
        officer: who wrote (``find_officer``).
        text: what they wrote.
        now: the time now.
        casework: policy, calendar, texts and team.
        reference: a case reference from the channel (email subject), if the text has none.

    Returns:
        The answer to send, or None for an empty message.
    """
    if not text.strip():
        return None
    command = parse_officer_reply(text, reference) or OfficerCommand("help", None)
    ctx = JobContext(uow, casework, now, worker=f"officer:{officer.id}")
    answer = await act(ctx, officer, command)
    await ctx.flush()
    return answer


async def handle_action_link(
    uow: UnitOfWork, token: str, now: datetime, *, casework: CaseworkContext
) -> str:
    """Act on a one-click link's token (for the console route: act on POST, never on GET).

    Returns:
        The text to show the officer.
    """
    links = casework.links
    action = links.read(token, now) if links is not None else None
    officer = await uow.officers.get(action.officer_id) if action is not None else None
    if action is None or officer is None or not officer.active:
        return casework.texts.text("reply.bad_link")
    ctx = JobContext(uow, casework, now, worker=f"officer:{officer.id}")
    answer = await act(ctx, officer, OfficerCommand(action.verb, action.reference))
    await ctx.flush()
    return answer


async def act(ctx: JobContext, officer: Officer, command: OfficerCommand) -> str:
    """Carry out one officer command on its case and return the answer."""
    texts = ctx.texts
    if command.verb == "help":
        return texts.text("reply.help")
    if command.reference is None:
        word = next(w for w, v in WORDS.items() if v == command.verb)
        return texts.text("reply.no_reference", word=word)
    case = await ctx.uow.cases.by_reference(command.reference)
    if case is None:
        return texts.text("reply.unknown_case", reference=command.reference)
    if not await _may_act(ctx, officer, case, command.verb):
        holder = await ctx.officer(case.officer_id)
        return texts.text(
            "reply.not_yours",
            reference=case.reference,
            officer=holder.name if holder else texts.text("nobody"),
        )
    if case.status == "closed":
        return texts.text("reply.closed_already", reference=case.reference)
    answer = await COMMANDS[command.verb](ctx, officer, case, command.rest)
    case.updated_at = ctx.now
    return answer


async def _may_act(ctx: JobContext, officer: Officer, case: Case, verb: str) -> bool:
    if officer.role in MANAGER_ROLES or officer.id in (case.officer_id, ctx.casework.team.on_call):
        return True
    return verb == "done" and officer.role == "caretaker"


def _actor(officer: Officer) -> str:
    return f"officer:{officer.id}"


# --- commands -------------------------------------------------------------------------------------


async def acknowledge(ctx: JobContext, officer: Officer, case: Case, rest: str) -> str:
    """ACK: someone has the alert; its second route is cancelled."""
    if case.acknowledged_at is not None:
        by = await ctx.officer(case.acknowledged_by)
        return ctx.texts.text(
            "reply.ack.already",
            reference=case.reference,
            by=by.name if by else case.acknowledged_by or "-",
            at=when(ctx.calendar, case.acknowledged_at),
        )
    _acknowledge(ctx, officer, case)
    await ctx.uow.actions.cancel_pending(
        case.id, ("alert_second_route",), ctx.now, reason=f"acknowledged by {officer.id}"
    )
    return ctx.texts.text(
        "reply.ack",
        name=officer.name,
        reference=case.reference,
        deadline=when(ctx.calendar, case.deadline_at),
    )


def _acknowledge(ctx: JobContext, officer: Officer, case: Case) -> None:
    if case.acknowledged_at is not None:
        return
    case.acknowledged_at, case.acknowledged_by = ctx.now, officer.id
    if case.officer_id is None:
        case.officer_id = officer.id
    ctx.audit("alert.acknowledged", case_id=case.id, actor=_actor(officer))


async def contacted(ctx: JobContext, officer: Officer, case: Case, rest: str) -> str:
    """CONTACTED: first contact made; reminders, the breach escalation and the alert's second
    route are cancelled."""
    if case.first_contact_at is not None:
        return ctx.texts.text(
            "reply.contacted.already",
            reference=case.reference,
            at=when(ctx.calendar, case.first_contact_at),
        )
    _acknowledge(ctx, officer, case)
    case.first_contact_at = ctx.now
    late = case.deadline_at is not None and ctx.now > case.deadline_at
    await ctx.uow.actions.cancel_pending(
        case.id, FIRST_CONTACT_KINDS, ctx.now, reason=f"first contact recorded by {officer.id}"
    )
    ctx.audit(
        "first_contact.recorded",
        case_id=case.id,
        actor=_actor(officer),
        detail={
            "late": late,
            "deadline": case.deadline_at.isoformat() if case.deadline_at else None,
        },
    )
    return ctx.texts.text(
        "reply.contacted.late" if late else "reply.contacted",
        reference=case.reference,
        at=when(ctx.calendar, ctx.now),
        deadline=when(ctx.calendar, case.deadline_at),
    )


def snooze_length(rest: str) -> timedelta | None:
    """How long "2h", "30 min" or "1 day" is; the default with nothing said; None if the
    words cannot be read or ask for longer than ``SNOOZE_LONGEST``."""
    if not rest.strip():
        return SNOOZE_DEFAULT
    match = _SNOOZE_RE.search(rest)
    if not match:
        return None
    length = int(match.group(1)) * _SNOOZE_UNITS[match.group(2)[0].lower()]
    return length if timedelta(0) < length <= SNOOZE_LONGEST else None


async def snooze(ctx: JobContext, officer: Officer, case: Case, rest: str) -> str:
    """SNOOZE: seen, remind me later (never later than the deadline; the breach escalation
    still happens at the deadline)."""
    if case.first_contact_at is not None:
        return ctx.texts.text(
            "reply.contacted.already",
            reference=case.reference,
            at=when(ctx.calendar, case.first_contact_at),
        )
    length = snooze_length(rest)
    if length is None:
        return ctx.texts.text(
            "reply.snooze.bad", reference=case.reference, longest=_words(SNOOZE_LONGEST)
        )
    remind_at = ctx.now + length
    if case.deadline_at is not None and case.deadline_at > ctx.now:
        remind_at = min(remind_at, case.deadline_at)
    _acknowledge(ctx, officer, case)
    await ctx.uow.actions.cancel_pending(
        case.id, ("alert_second_route",), ctx.now, reason=f"snoozed by {officer.id}"
    )
    ctx.schedule(
        "first_contact_reminder",
        remind_at,
        case_id=case.id,
        dedupe_key=f"{case.reference}:snooze:{officer.id}:{ctx.now.isoformat()}",
        payload={"snoozed_by": officer.id},
    )
    ctx.audit(
        "reminder.snoozed",
        case_id=case.id,
        actor=_actor(officer),
        detail={"until": remind_at.isoformat()},
    )
    return ctx.texts.text(
        "reply.snooze", reference=case.reference, at=when(ctx.calendar, remind_at)
    )


def _words(length: timedelta) -> str:
    if length % timedelta(days=1) == timedelta(0):
        days = length // timedelta(days=1)
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{length // timedelta(hours=1)} hours"


async def done(ctx: JobContext, officer: Officer, case: Case, rest: str) -> str:
    """DONE: the graffiti has been removed; the reporter is told (R-11)."""
    if case.category != "graffiti" and "graffiti" not in (case.categories or []):
        return ctx.texts.text("reply.done.no_job", reference=case.reference)
    if case.graffiti_removed_at is not None:
        return ctx.texts.text(
            "reply.done.already",
            reference=case.reference,
            at=when(ctx.calendar, case.graffiti_removed_at),
        )
    case.graffiti_removed_at = ctx.now
    await ctx.uow.actions.cancel_pending(
        case.id, ("graffiti_job", "graffiti_due"), ctx.now, reason=f"removed ({officer.id})"
    )
    reach = await ctx.reporter(case)
    for route in reach.routes[:1]:
        ctx.tell_reporter(
            route,
            f"graffiti-removed:{case.id}",
            [
                ctx.texts.text(
                    "reporter.graffiti_removed",
                    landlord=ctx.casework.landlord,
                    reference=case.reference,
                )
            ],
            case=case,
        )
    ctx.audit(
        "graffiti.removed",
        case_id=case.id,
        actor=_actor(officer),
        detail={"reporter_told": bool(reach.routes)},
    )
    return ctx.texts.text(
        "reply.done",
        reference=case.reference,
        told=ctx.texts.text("reply.done.told") if reach.routes else "",
    )


async def updated(ctx: JobContext, officer: Officer, case: Case, rest: str) -> str:
    """UPDATED: the reporter has been updated (R-09); the next reminder counts from now."""
    case.last_update_at = ctx.now
    ctx.audit("reporter.updated", case_id=case.id, actor=_actor(officer))
    return ctx.texts.text(
        "reply.updated",
        reference=case.reference,
        next=when(ctx.calendar, ctx.now + cadence(ctx, case)),
    )


async def close(ctx: JobContext, officer: Officer, case: Case, rest: str) -> str:
    """CLOSE <reason>: closed for one of the policy's reasons, confirmed to the reporter in
    writing and followed by the satisfaction survey (R-13, R-14)."""
    reasons = ctx.policy.closure.reasons
    reason = rest.split()[0].lower() if rest.split() else ""
    if reason not in reasons:
        return ctx.texts.text(
            "reply.close.bad_reason", reasons=", ".join(reasons), reference=case.reference
        )
    reach = await close_case(ctx, case, reason, actor=_actor(officer))
    if reach is None or reach.routes:
        confirmed = ctx.texts.text("reply.close.confirmed") if reach else ""
    else:
        confirmed = ctx.texts.text(
            "reply.close.not_confirmed",
            why=ctx.texts.text(f"unreachable.{reach.unreachable or 'no_channel'}"),
        )
    return ctx.texts.text(
        "reply.close",
        reference=case.reference,
        reason=reason.replace("_", " "),
        confirmed=confirmed,
    )


Command = Callable[[JobContext, Officer, Case, str], Awaitable[str]]

COMMANDS: dict[str, Command] = {
    "ack": acknowledge,
    "contacted": contacted,
    "snooze": snooze,
    "done": done,
    "updated": updated,
    "close": close,
}
"""What each command does (``help`` is answered before a case is looked up)."""
