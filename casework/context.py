"""What a casework job needs: the policy, calendar, texts and team (``CaseworkContext``, built
once), and for one run the unit of work, the time and the messages and follow-ups it queues
(``JobContext``).

Messages and follow-ups are buffered and written in one statement each when the run flushes, in
the same transaction that marks the actions done: a batch of a few hundred actions costs a few
round trips, not a few per action. Every message has an idempotency key derived from the action
(or the officer's command), so running a job twice never sends anything twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from casework.links import ActionLinks
from casework.texts import Texts
from storage.models import AuditEvent, Case, ChannelIdentity, Officer, ScheduledAction
from storage.repositories import PeopleRepository
from storage.uow import UnitOfWork
from triage.calendar import WorkingCalendar
from triage.policy import Policy
from triage.taxonomy import Priority

if TYPE_CHECKING:
    from intake.settings import Settings

REPORTER_CHANNELS = frozenset({"sms", "whatsapp", "email", "telegram", "web"})
"""Channels a follow-up can reach a reporter on later (a terminal session cannot)."""

OFFICER_CONTACTS = (("email", "email"), ("sms", "phone"), ("telegram", "telegram_chat_id"))
"""An officer's channels and the Officer attribute holding the address on each."""

MANAGER_ROLES = frozenset({"manager", "admin"})


@dataclass(frozen=True)
class TeamRoles:
    """Who holds the team's standing roles (from the config's team section)."""

    on_call: str | None = None
    manager: str | None = None
    caretaking_email: str | None = None


@dataclass(frozen=True)
class CaseworkContext:
    """Everything casework jobs read but never change, built once at start-up.

    Args:
        policy: the landlord's service standard.
        calendar: working days and office hours.
        texts: the message catalog.
        team: on-call officer, manager, caretaking address.
        landlord: the landlord's name, as reporters know it.
        links: signed one-click links for officer alerts; None sends no links.
    """

    policy: Policy
    calendar: WorkingCalendar
    texts: Texts
    team: TeamRoles = TeamRoles()
    landlord: str = "Your landlord"
    links: ActionLinks | None = None


def context_from_settings(settings: Settings, *, secret: str | None = None) -> CaseworkContext:
    """The casework context the settings describe.

    Args:
        settings: validated settings.
        secret: the service's secret key, to sign one-click links (no links without it).
    """
    policy = settings.policy
    team = settings.team
    key = secret or (
        settings.service.secret_key.get_secret_value() if settings.service.secret_key else None
    )
    return CaseworkContext(
        policy=policy,
        calendar=WorkingCalendar.from_policy(policy),
        texts=Texts.load(settings.conversation.language),
        team=TeamRoles(team.on_call, team.manager, team.caretaking_email),
        landlord=settings.service.landlord,
        links=ActionLinks(key, settings.service.public_base_url) if key else None,
    )


@dataclass(frozen=True)
class ReporterRoute:
    """One way to write to a reporter."""

    channel: str
    address: str
    identity_id: int | None


@dataclass(frozen=True)
class ReporterReach:
    """Where a reporter can be written to, or why not."""

    routes: tuple[ReporterRoute, ...] = ()
    unreachable: str | None = None
    """anonymous, opted_out, not_safe or no_channel (a key under ``unreachable.``)."""


@dataclass
class JobContext:
    """One run of jobs (a scheduler batch, or one officer's command) in one transaction."""

    uow: UnitOfWork
    casework: CaseworkContext
    now: datetime
    worker: str = "casework"
    _outbox: list[dict[str, Any]] = field(default_factory=list)
    _follow_ups: list[dict[str, Any]] = field(default_factory=list)
    _officers: dict[str, Officer] | None = None
    _cases: dict[int, Case] = field(default_factory=dict)
    """Strong references: the session's identity map holds objects weakly, so a preloaded
    case would otherwise be collected and fetched again, one query per action."""
    _incident_counts: dict[datetime, dict[int, int]] = field(default_factory=dict)
    _office_open: bool | None = None
    case_words: dict[int, dict[str, str]] = field(default_factory=dict)
    """Each case's words for messages, worked out once per run."""
    rescheduled: set[int] = field(default_factory=set)
    """Actions a job put back to wait (they stay pending; the rest are marked done)."""

    @property
    def policy(self) -> Policy:
        return self.casework.policy

    @property
    def calendar(self) -> WorkingCalendar:
        return self.casework.calendar

    @property
    def texts(self) -> Texts:
        return self.casework.texts

    # --- reading ------------------------------------------------------------------------------

    async def case(self, case_id: int | None) -> Case | None:
        """The case (preloaded for a batch, or fetched once and kept for the run)."""
        if case_id is None:
            return None
        found = self._cases.get(case_id)
        if found is None:
            found = await self.uow.cases.get(case_id)
            if found is not None:
                self._cases[case_id] = found
        return found

    async def incidents_since(self, case_id: int, since: datetime) -> int:
        """A case's incidents since ``since``: counted for every case of the run at once."""
        counts = self._incident_counts.get(since)
        if counts is None or case_id not in self._cases:
            counts = await self.uow.cases.incident_counts({*self._cases, case_id}, since)
            self._incident_counts[since] = counts
        return counts.get(case_id, 0)

    async def preload(self, case_ids: Iterable[int | None]) -> None:
        """Load a batch's cases and the team in two queries."""
        wanted = {i for i in case_ids if i is not None and i not in self._cases}
        self._cases.update(await self.uow.cases.by_ids(wanted))
        await self.officers()

    async def officers(self) -> dict[str, Officer]:
        """Every officer by id, loaded once per run."""
        if self._officers is None:
            self._officers = {o.id: o for o in await self.uow.officers.all()}
        return self._officers

    async def officer(self, officer_id: str | None) -> Officer | None:
        """An active officer, or None."""
        if officer_id is None:
            return None
        found = (await self.officers()).get(officer_id)
        return found if found is not None and found.active else None

    async def managers(self) -> list[Officer]:
        """The configured manager, or every active manager if none is named."""
        named = await self.officer(self.casework.team.manager)
        if named is not None:
            return [named]
        return [o for o in (await self.officers()).values() if o.active and o.role in MANAGER_ROLES]

    async def on_call(self) -> Officer | None:
        """The on-call officer, if one is configured and active."""
        return await self.officer(self.casework.team.on_call)

    # --- when and to whom ---------------------------------------------------------------------

    def office_open(self) -> bool:
        """True while the office is open (the run's time is fixed: worked out once)."""
        if self._office_open is None:
            self._office_open = self.calendar.is_open(self.now)
        return self._office_open

    def urgent(self, case: Case | None) -> bool:
        """A P1 case: goes to the on-call officer at once out of hours (policy permitting)."""
        return case is not None and case.priority == Priority.P1.value

    def waits_for_office(self, case: Case | None) -> bool:
        """True if a message about ``case`` must wait for the next working morning now."""
        rules = self.policy.out_of_hours
        if self.office_open() or not rules.others_wait_for_next_working_morning:
            return False
        return not (self.urgent(case) and rules.p1_to_on_call)

    async def officers_for(self, case: Case | None, *, urgent: bool | None = None) -> list[Officer]:
        """Who acts on ``case`` now: its officer in office hours; the on-call officer out of
        hours for P1 (or anything ``urgent``); whoever is left (on-call, then the manager) if
        it has no officer."""
        out_of_hours = not self.office_open()
        on_call = await self.on_call()
        pressing = self.urgent(case) if urgent is None else urgent
        if out_of_hours and pressing and self.policy.out_of_hours.p1_to_on_call:
            if on_call is not None:
                return [on_call]
        officer = await self.officer(case.officer_id if case else None)
        if officer is not None:
            return [officer]
        if on_call is not None:
            return [on_call]
        return await self.managers()

    # --- writing ------------------------------------------------------------------------------

    def tell_officer(
        self,
        officer: Officer,
        key: str,
        body: str,
        *,
        case: Case | None = None,
        subject: str | None = None,
        route: int = 0,
        links: Sequence[str] = (),
    ) -> bool:
        """Queue a message to an officer on their alert channel (``route`` 1, 2 ... picks
        their other contacts).

        Returns:
            False if the officer has no such route.
        """
        routes = officer_routes(officer)
        if route >= len(routes):
            return False
        channel, recipient = routes[route]
        urls = self._links(officer, case, links) if channel == "email" else []
        if urls:
            body = "\n\n".join([body, "\n".join([self.texts.text("links.header"), *urls])])
        self._queue(
            key=f"{key}:{officer.id}:{route}",
            channel=channel,
            recipient=recipient,
            body=body,
            case=case,
            officer_id=officer.id,
            subject=subject,
        )
        return True

    def tell_address(
        self,
        channel: str,
        recipient: str,
        key: str,
        body: str,
        *,
        case: Case | None = None,
        subject: str | None = None,
    ) -> None:
        """Queue a message to an address that is not an officer (the caretaking mailbox)."""
        self._queue(
            key=key, channel=channel, recipient=recipient, body=body, case=case, subject=subject
        )

    def tell_reporter(
        self,
        route: ReporterRoute,
        key: str,
        bodies: Sequence[str],
        *,
        case: Case,
        options: Sequence[tuple[str, str]] = (),
        subject: str | None = None,
    ) -> None:
        """Queue one or more messages (one group) to a reporter on one route. The options go
        with the last message, as buttons where the channel has them."""
        for index, body in enumerate(bodies):
            last = index == len(bodies) - 1
            self._queue(
                key=f"{key}:{index}" if len(bodies) > 1 else key,
                channel=route.channel,
                recipient=route.address,
                body=body,
                case=case,
                identity_id=route.identity_id,
                subject=subject,
                group=key,
                options=options if last and route.channel in ("telegram", "web") else (),
            )

    def reschedule(self, action: ScheduledAction, due_at: datetime, why: str) -> None:
        """Put the action being run back to wait until ``due_at`` instead of finishing it."""
        action.status, action.due_at, action.last_error = "pending", due_at, why
        action.claimed_by, action.attempts = None, 0
        self.rescheduled.add(action.id)

    def schedule(
        self,
        kind: str,
        due_at: datetime,
        *,
        case_id: int | None,
        dedupe_key: str,
        payload: dict[str, Any] | None = None,
    ) -> None:
        """Schedule a follow-up, written with this run (a dedupe key makes it once only)."""
        self._follow_ups.append(
            {
                "kind": kind,
                "due_at": due_at,
                "case_id": case_id,
                "dedupe_key": dedupe_key,
                "payload": payload or {},
                "created_at": self.now,
            }
        )

    def audit(
        self,
        action: str,
        *,
        case_id: int | None,
        detail: dict[str, Any] | None = None,
        actor: str = "system",
    ) -> None:
        """Record an audit event at this run's time."""
        self.uow.session.add(
            AuditEvent(
                at=self.now, actor=actor, action=action, case_id=case_id, detail=detail or {}
            )
        )

    async def flush(self) -> None:
        """Write the queued messages and follow-ups (idempotently) and pending ORM changes."""
        await self.uow.session.flush()
        await self.uow.outbox.enqueue_many(self._outbox)
        await self.uow.actions.schedule_many(self._follow_ups)
        self._outbox.clear()
        self._follow_ups.clear()

    def discard(self) -> None:
        """Forget what was queued (the job failed and its transaction is being rolled back)."""
        self._outbox.clear()
        self._follow_ups.clear()

    @property
    def queued_messages(self) -> int:
        """Messages queued and not yet flushed."""
        return len(self._outbox)

    # --- reporters ----------------------------------------------------------------------------

    async def reporter(
        self, case: Case, *, methods: int = 1, primary_only: bool = False
    ) -> ReporterReach:
        """Where the reporter of ``case`` can be written to: the channel they reported on
        first, then their other channels, one per channel, up to ``methods``.

        Nobody is written to for an anonymous report, on a channel that opted out (STOP), or
        when the reporter said messages are not safe for them (R-08, R-18).
        """
        if case.anonymous:
            return ReporterReach(unreachable="anonymous")
        if str(case.adjustments.get("safe_messages", "")).lower() == "no":
            return ReporterReach(unreachable="not_safe")
        people = PeopleRepository(self.uow.session)
        candidates: list[ChannelIdentity] = []
        primary = (
            await self.uow.session.get(ChannelIdentity, case.reporter_identity_id)
            if case.reporter_identity_id is not None
            else None
        )
        if primary is not None:
            candidates.append(primary)
        if not primary_only:
            for person_id in dict.fromkeys(
                p for p in (case.reporter_id, primary.person_id if primary else None) if p
            ):
                candidates.extend(await people.identities_of(person_id))
        routes: list[ReporterRoute] = []
        seen_channels: set[str] = set()
        opted_out = False
        for identity in candidates:
            if identity.channel not in REPORTER_CHANNELS or identity.channel in seen_channels:
                continue
            if identity.opted_out_at is not None:
                opted_out = True
                continue
            seen_channels.add(identity.channel)
            routes.append(ReporterRoute(identity.channel, identity.address, identity.id))
        if not primary_only:
            for route in await self._given_contacts(case, people):
                if route.channel not in seen_channels:
                    seen_channels.add(route.channel)
                    routes.append(route)
        if not routes:
            return ReporterReach(unreachable="opted_out" if opted_out else "no_channel")
        return ReporterReach(routes=tuple(routes[:methods]))

    async def _given_contacts(self, case: Case, people: PeopleRepository) -> list[ReporterRoute]:
        """The phone number and email address the reporter gave in the report, if we have no
        identity on them that opted out."""
        found: list[ReporterRoute] = []
        given = {
            "sms": _phone(str(case.adjustments.get("contact_phone") or "")),
            "email": str(case.adjustments.get("contact_email") or "").strip().lower() or None,
        }
        for channel, address in given.items():
            if not address:
                continue
            identity = await people.find_identity(channel, address)
            if identity is not None and identity.opted_out_at is not None:
                continue
            found.append(ReporterRoute(channel, address, identity.id if identity else None))
        return found

    # --- internals ----------------------------------------------------------------------------

    def _links(self, officer: Officer, case: Case | None, verbs: Sequence[str]) -> list[str]:
        links = self.casework.links
        if links is None or case is None:
            return []
        return [
            self.texts.text(
                f"links.{verb}", url=links.url(verb, case.reference, officer.id, self.now)
            )
            for verb in verbs
        ]

    def _queue(
        self,
        *,
        key: str,
        channel: str,
        recipient: str,
        body: str,
        case: Case | None,
        officer_id: str | None = None,
        identity_id: int | None = None,
        subject: str | None = None,
        group: str | None = None,
        options: Sequence[tuple[str, str]] = (),
    ) -> None:
        self._outbox.append(
            {
                "idempotency_key": key[:128],
                "channel": channel,
                "recipient": recipient,
                "identity_id": identity_id,
                "officer_id": officer_id,
                "case_id": case.id if case is not None else None,
                "body": body,
                "extra": {
                    "group": group or key,
                    "reference": case.reference if case is not None else None,
                    "subject": subject,
                    "context": {},
                    "options": [list(o) for o in options],
                },
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": self.now,
                "created_at": self.now,
            }
        )


def officer_routes(officer: Officer) -> list[tuple[str, str]]:
    """An officer's (channel, address) pairs: their chosen alert channel first."""
    routes: list[tuple[str, str]] = []
    for channel, attribute in OFFICER_CONTACTS:
        value = getattr(officer, attribute)
        if value is not None and str(value):
            routes.append((channel, str(value)))
    routes.sort(key=lambda route: route[0] != officer.alert_by)
    return routes


def _phone(text: str) -> str | None:
    digits = re.sub(r"[^\d+]", "", text)
    if len(digits) < 10:
        return None
    if digits.startswith("07"):
        return "+44" + digits[1:]
    return digits
