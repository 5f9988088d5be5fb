"""The intake service: load state → step the pure engine → one transaction.

For every inbound message, in ONE transaction: the raw message (unique per channel and
external id), the conversation's new state, the case rows, the replies as outbox rows and the
follow-ups as scheduled-action rows. A redelivery returns the first answer and changes nothing.
If a step fails, the raw message is still kept (status ``failed``) in its own transaction and
the reporter gets a safe answer: nothing acknowledged is ever lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select

from intake.conversation.catalog import Catalog
from intake.conversation.effects import (
    REFERENCE_TOKEN,
    AddIncident,
    CaseDraft,
    Effect,
    EndAdvocacy,
    FlagForOfficer,
    KeepEvidence,
    NominateAdvocate,
    OptIn,
    OptOut,
    RequestCallback,
    SaveCase,
)
from intake.conversation.engine import (
    REFERENCE_RE,
    Allocation,
    Context,
    KnownCase,
    StepResult,
    needs,
    on_idle,
    step,
)
from intake.conversation.state import ConversationState
from intake.messages import Attachment, Channel, Handled, InboundMessage, Option, Reply
from intake.settings import Settings
from storage.database import connection_lost
from storage.models import (
    Advocacy,
    Case,
    ChannelIdentity,
    ConsentRecord,
    Conversation,
    Evidence,
    Incident,
    OutboxMessage,
    Person,
    RiskAssessment,
)
from storage.uow import Storage, UnitOfWork
from triage.calendar import WorkingCalendar
from triage.taxonomy import Priority

log = logging.getLogger(__name__)

IDLE_KIND = "conversation_idle"
"""The scheduled check on a conversation left part-way (see ``run_idle_checks``)."""
OWN_KINDS: tuple[str, ...] = (IDLE_KIND,)
"""The scheduled kinds the intake runs on its own timer; casework need not wake for them."""


def _with_work(handled: Handled, uow: UnitOfWork) -> Handled:
    """``handled``, saying who has work from it (``intake serve`` wakes only them): whether
    messages wait in the outbox, and the soonest follow-up for casework."""
    return replace(
        handled,
        deliveries_queued=uow.written.deliveries > 0,
        next_due=uow.written.earliest_due_except(OWN_KINDS),
    )


SAFE_FAILURE_TEXT = (
    "Sorry, something went wrong on our side. Your message is saved and an officer will see "
    "it. If you are in danger, call 999."
)


class OfficerDesk(Protocol):
    """Answers a message from an officer's known address (ACK, CONTACTED, SNOOZE, DONE…),
    or returns None when the sender is not an officer. Wired from casework by the composition
    root, in the same unit of work as the inbound message."""

    async def __call__(self, uow: UnitOfWork, message: InboundMessage) -> str | None:
        """The answer to send back, or None."""
        ...


class SurveyDesk(Protocol):
    """Stores a reporter's answer to a satisfaction survey (R-14) when that is what the message
    is, returning the thanks; None otherwise. Wired from casework by the composition root."""

    async def __call__(
        self, uow: UnitOfWork, identity: ChannelIdentity, message: InboundMessage
    ) -> str | None:
        """The thank-you to send, or None."""
        ...


class FollowUp(Protocol):
    """One scheduled action for a new case (``casework.plan.PlannedAction``)."""

    @property
    def kind(self) -> str: ...
    @property
    def due_at(self) -> datetime: ...
    @property
    def dedupe_key(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...


class CaseRules(Protocol):
    """What the intake service needs from casework when it saves a case: who gets it, where it
    is, and its follow-ups. The composition root wires ``casework.intake_rules.CaseworkRules``
    in, so intake never imports casework (DESIGN.md, packages)."""

    def allocate(
        self, open_cases: Mapping[str, int], *, area: str | None, p1_out_of_hours: bool
    ) -> tuple[str, str] | None:
        """The (id, name) of the officer a new case goes to, if any."""
        ...

    def place(self, address_text: str, location: str | None) -> tuple[str | None, str | None]:
        """The area code in the reporter's words and the block named in ``location``."""
        ...

    def follow_ups(
        self,
        case: Case,
        *,
        deadline_at: datetime,
        graffiti_due_at: datetime | None,
        offensive_graffiti: bool | None,
        update_every_days: int | None,
        now: datetime,
    ) -> Sequence[FollowUp]:
        """The scheduled actions a submitted case needs."""
        ...


class IntakeService:
    """Runs the conversation for every channel on top of storage.

    Args:
        storage: the database.
        settings: validated settings (policy, team, conversation).
        clock: the time now (tests pass a controlled clock).
    """

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        clock: Callable[[], datetime] | None = None,
        officer_desk: OfficerDesk | None = None,
        survey_desk: SurveyDesk | None = None,
        *,
        rules: CaseRules,
    ) -> None:
        self.storage = storage
        self.rules = rules
        self.officer_desk = officer_desk
        self.survey_desk = survey_desk
        self.settings = settings
        self.policy = settings.policy
        self.calendar = WorkingCalendar.from_policy(settings.policy)
        self.catalog = Catalog.load(settings.conversation.language)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.evidence_dir = Path(settings.service.data_dir) / "evidence"

    # --- inbound --------------------------------------------------------------------------

    async def handle(self, message: InboundMessage, *, inline: bool = False) -> Handled:
        """Process one inbound message and return the replies.

        Args:
            message: what arrived.
            inline: the caller delivers the replies itself (TwiML, web chat, terminal); they
                are still recorded in the outbox as ``inline`` for the transcript.
        """
        try:
            try:
                return await self._handle_once(message, inline)
            except Exception as exc:
                if not connection_lost(exc):
                    raise
                # the database dropped the connection (a restart): nothing was kept, so the
                # same step runs again on a fresh one (a redelivery if the commit did land)
                log.warning(
                    "database connection lost during %s message %s; trying once more",
                    message.channel.value,
                    _redact(message.external_id),
                )
                handled = await self._handle_once(message, inline)
                if not handled.first_delivery:  # the first attempt's commit did land: its
                    # queued replies and follow-ups may be waiting for a wake-up
                    handled = replace(handled, deliveries_queued=True,
                                      next_due=message.received_at)
                return handled
        except Exception as exc:
            # A bug in a step must not lose the report: keep the raw message and flag it.
            log.exception(
                "step failed for %s message %s", message.channel.value, _redact(message.external_id)
            )
            return await self._keep_failed(message, exc)

    async def _handle_once(self, message: InboundMessage, inline: bool) -> Handled:
        async with self.storage.unit_of_work() as uow:
            handled = await self._handle(uow, message, inline)
        return _with_work(handled, uow)

    async def _handle(self, uow: UnitOfWork, message: InboundMessage, inline: bool) -> Handled:
        recorded = await uow.inbound.record(
            message.channel.value,
            message.external_id,
            message.raw or message.text.encode(),
            sender=message.sender,
        )
        inbound = recorded.id
        if not recorded.first_delivery:
            log.info("duplicate %s delivery ignored (inbound %s)", message.channel.value, inbound)
            return Handled(
                _stored_replies(recorded.response), first_delivery=False, inbound_id=inbound
            )
        if self.officer_desk is not None:
            answer = await self.officer_desk(uow, message)
            if answer is not None:  # an officer acting from an alert, not a new report
                # it may have moved follow-ups (snooze, done): casework looks again now
                uow.written.look_again(message.received_at)
                identity = await uow.people.identity(message.channel.value, message.sender)
                return await self._answer_directly(uow, answer, identity, inbound, message, inline)
        identity, new = await uow.people.identity_and_whether_new(
            message.channel.value, message.sender
        )
        conversation = None if new else await uow.conversations.for_identity(identity.id)
        if conversation is None:
            conversation = Conversation(identity_id=identity.id, state={})
        state = ConversationState.from_dict(conversation.state)
        if (
            self.survey_desk is not None
            and not new  # a survey only goes to someone who reported before
            and state.status in ("new", "done")
            and not state.awaiting
        ):
            thanks = await self.survey_desk(uow, identity, message)
            if thanks is not None:  # an answer to the satisfaction survey, not a new report
                uow.written.look_again(message.received_at)
                return await self._answer_directly(uow, thanks, identity, inbound, message, inline)
        ctx = await self._context(uow, identity, state, message)
        result = step(state, message, ctx)
        result = await self._apply(uow, result, identity, inbound, conversation, message)
        conversation.state = result.state.to_dict()
        conversation.case_id = await self._case_id(uow, result.state.case_ref)
        conversation.updated_at = message.received_at
        await uow.conversations.save(conversation)
        await self._queue_replies(
            uow,
            result.replies,
            identity,
            inbound,
            self._reply_status(message, identity, inline),
            result.state.case_ref or result.state.last_case_ref,
            message.reply_context,
        )
        if result.state.status in ("describing", "asking", "confirming"):
            await uow.actions.schedule(
                IDLE_KIND,
                message.received_at + self.settings.conversation.idle_timeout.as_timedelta(),
                dedupe_key=f"idle:{conversation.id}:{conversation.version}",
                payload={"conversation_id": conversation.id, "version": conversation.version},
            )
        await uow.inbound.mark(inbound, "processed", response=_serialise(result.replies))
        reference = result.state.case_ref or result.state.last_case_ref
        return Handled(
            result.replies, first_delivery=True, case_reference=reference, inbound_id=inbound
        )

    async def _answer_directly(
        self,
        uow: UnitOfWork,
        text: str,
        identity: ChannelIdentity,
        inbound: int,
        message: InboundMessage,
        inline: bool,
    ) -> Handled:
        """Answer outside the conversation (an officer's reply word, a survey answer)."""
        replies = (Reply(text),)
        status = self._reply_status(message, identity, inline)
        await self._queue_replies(
            uow, replies, identity, inbound, status, None, message.reply_context
        )
        await uow.inbound.mark(inbound, "processed", response=_serialise(replies))
        return Handled(replies, first_delivery=True, inbound_id=inbound)

    async def _keep_failed(self, message: InboundMessage, exc: Exception) -> Handled:
        async with self.storage.unit_of_work() as uow:
            recorded = await uow.inbound.record(
                message.channel.value,
                message.external_id,
                message.raw or message.text.encode(),
                sender=message.sender,
            )
            await uow.inbound.mark(
                recorded.id,
                "failed",
                error=type(exc).__name__,
                response=_serialise((Reply(SAFE_FAILURE_TEXT),)),
            )
            await uow.actions.schedule(
                "officer_flag",
                message.received_at,
                dedupe_key=f"failed-inbound:{recorded.id}",
                payload={
                    "reason": "a message could not be processed",
                    "inbound_id": recorded.id,
                },
            )
        return _with_work(
            Handled((Reply(SAFE_FAILURE_TEXT),), first_delivery=True, inbound_id=recorded.id), uow
        )

    # --- context --------------------------------------------------------------------------

    async def _context(
        self,
        uow: UnitOfWork,
        identity: ChannelIdentity,
        state: ConversationState,
        message: InboundMessage,
    ) -> Context:
        now = message.received_at
        wanted = needs(state, message)
        known = await self._known_case(uow, identity, message)
        open_ref = None
        if state.last_case_ref and "last_case" in wanted:
            last = await uow.cases.by_reference(state.last_case_ref)
            if last is not None and last.status == "open" and not last.not_asb:
                open_ref = last.reference
        submission = "submission" in wanted
        earlier = await self._earlier_not_asb(uow, identity, now) if submission else ()
        counts = await uow.officers.open_case_counts() if submission else {}
        p1_out_of_hours = not self.calendar.is_open(now)

        def allocate_officer(area: str | None, priority: Priority) -> Allocation | None:
            chosen = self.rules.allocate(
                counts, area=area, p1_out_of_hours=priority is Priority.P1 and p1_out_of_hours
            )
            return Allocation(*chosen) if chosen else None

        return Context(
            policy=self.policy,
            calendar=self.calendar,
            catalog=self.catalog,
            now=now,
            landlord=self.settings.service.landlord,
            idle_timeout=self.settings.conversation.idle_timeout.as_timedelta(),
            known_case=known,
            own_case=await self._own_case(uow, identity) if "own_case" in wanted else None,
            open_case=open_ref,
            earlier_not_asb=earlier,
            allocate=allocate_officer,
        )

    async def _known_case(
        self, uow: UnitOfWork, identity: ChannelIdentity, message: InboundMessage
    ) -> KnownCase | None:
        reference = message.in_reply_to_reference
        match = REFERENCE_RE.search(message.text or "") or REFERENCE_RE.search(
            message.subject or ""
        )
        if match:
            reference = f"ASB-{match.group(1)}-{int(match.group(2)):06d}"
        if not reference:
            return None
        case = await uow.cases.by_reference(reference)
        if case is None:
            return KnownCase(reference=reference, authorised=False, open=False)
        return await self._as_known(uow, identity, case)

    async def _as_known(self, uow: UnitOfWork, identity: ChannelIdentity, case: Case) -> KnownCase:
        role = await self._role(uow, identity, case)
        return KnownCase(
            reference=case.reference,
            authorised=role is not None,
            open=case.status == "open",
            role=role,
        )

    async def _role(self, uow: UnitOfWork, identity: ChannelIdentity, case: Case) -> str | None:
        """Who the sender is to the case: tenant, advocate, reporter, or nobody (R-07, R-10)."""
        advocate = await uow.session.scalar(
            select(Advocacy.advocate_id).where(
                Advocacy.case_id == case.id, Advocacy.ended_at.is_(None)
            )
        )
        if advocate is not None and advocate == identity.person_id:
            return "advocate"
        if case.reporter_id is not None and case.reporter_id == identity.person_id:
            return "tenant"
        if case.reporter_identity_id == identity.id:
            return "reporter"
        return None

    async def _own_case(self, uow: UnitOfWork, identity: ChannelIdentity) -> KnownCase | None:
        """The sender's most recent open case as its tenant or advocate."""
        advocated = select(Advocacy.case_id).where(
            Advocacy.advocate_id == identity.person_id, Advocacy.ended_at.is_(None)
        )
        case = await uow.session.scalar(
            select(Case)
            .where(
                Case.status == "open",
                (Case.reporter_id == identity.person_id) | Case.id.in_(advocated),
            )
            .order_by(Case.received_at.desc())
            .limit(1)
        )
        return await self._as_known(uow, identity, case) if case is not None else None

    async def _earlier_not_asb(
        self, uow: UnitOfWork, identity: ChannelIdentity, now: datetime
    ) -> tuple[str, ...]:
        window = self.calendar.before(now, self.policy.not_asb.repeat_window)
        rows = await uow.session.execute(
            select(Case.reference, Case.received_at)
            .where(
                Case.not_asb.is_(True),
                Case.reporter_identity_id == identity.id,
                Case.received_at >= window,
            )
            .order_by(Case.received_at)
        )
        return tuple(f"{ref}, {self.calendar.local(at):%-d %B}" for ref, at in rows.all())

    # --- effects --------------------------------------------------------------------------

    async def _apply(
        self,
        uow: UnitOfWork,
        result: StepResult,
        identity: ChannelIdentity,
        inbound_id: int | None,
        conversation: Conversation,
        message: InboundMessage,
    ) -> StepResult:
        state = result.state
        reference = state.case_ref
        for effect in result.effects:
            if isinstance(effect, SaveCase):
                reference = await self._save_case(
                    uow, effect, identity, inbound_id, reference, state, message.received_at
                )
                state.case_ref = reference
        if reference is None and REFERENCE_TOKEN in (state.last_case_ref or ""):
            reference = state.last_case_ref
        for effect in result.effects:
            if not isinstance(effect, SaveCase):
                await self._apply_one(
                    uow, effect, identity, inbound_id, reference, state, message.received_at
                )
        replies = result.replies
        if reference:
            replies = tuple(
                replace(r, text=r.text.replace(REFERENCE_TOKEN, reference)) for r in replies
            )
            if state.last_case_ref == REFERENCE_TOKEN:
                state.last_case_ref = reference
        if state.status == "done" and state.case_ref:
            state.last_case_ref = state.case_ref
            state.case_ref = None
            state.case_saved_as = None
            state.alerted = False
            state.description = ""
            state.answers = {}
            state.prefilled = []
            state.history = []
        return StepResult(state, replies, result.effects)

    async def _apply_one(
        self,
        uow: UnitOfWork,
        effect: Effect,
        identity: ChannelIdentity,
        inbound_id: int | None,
        reference: str | None,
        state: ConversationState,
        now: datetime,
    ) -> None:
        if isinstance(effect, AddIncident):
            case = await uow.cases.by_reference(effect.reference)
            if case is not None:
                await uow.cases.add_incident(
                    Incident(
                        case_id=case.id,
                        reported_at=now,
                        description=effect.description,
                        inbound_message_id=inbound_id,
                    )
                )
                case.updated_at = now
                await uow.audit.record(
                    f"reporter:{identity.id}", "incident.added", case_id=case.id, at=now
                )
                await uow.actions.schedule(
                    "incident_added",
                    now,
                    case_id=case.id,
                    dedupe_key=f"incident:{inbound_id}",
                    payload={"reference": case.reference},
                )
        elif isinstance(effect, KeepEvidence):
            target = effect.reference or reference
            case = await uow.cases.by_reference(target) if target else None
            ids = await self._keep_evidence(uow, effect.attachments, case, inbound_id)
            if case is None:
                state.answers["_evidence_ids"] = [*state.answers.get("_evidence_ids", []), *ids]
        elif isinstance(effect, OptOut):
            identity.opted_out_at = now
        elif isinstance(effect, OptIn):
            identity.opted_out_at = None
        elif isinstance(effect, RequestCallback):
            case = await uow.cases.by_reference(effect.reference) if effect.reference else None
            await uow.actions.schedule(
                "callback_request",
                now,
                case_id=case.id if case else None,
                dedupe_key=f"callback:{inbound_id}",
                payload={
                    "number": effect.number,
                    "identity_id": identity.id,
                    "channel": identity.channel,
                },
            )
        elif isinstance(effect, EndAdvocacy):
            await self._end_advocacy(uow, effect, identity, now)
        elif isinstance(effect, NominateAdvocate):
            await self._nominate_advocate(uow, effect, identity, inbound_id, now)
        elif isinstance(effect, FlagForOfficer):
            flagged = effect.reference if effect.reference != REFERENCE_TOKEN else reference
            case = await uow.cases.by_reference(flagged) if flagged else None
            await uow.actions.schedule(
                "officer_flag",
                now,
                case_id=case.id if case else None,
                dedupe_key=f"flag:{inbound_id}:{effect.reason}",
                payload={"reason": effect.reason, "identity_id": identity.id},
            )

    async def _end_advocacy(
        self, uow: UnitOfWork, effect: EndAdvocacy, identity: ChannelIdentity, now: datetime
    ) -> None:
        case = await uow.cases.by_reference(effect.reference)
        if case is None:
            return
        active = await uow.session.scalar(
            select(Advocacy).where(Advocacy.case_id == case.id, Advocacy.ended_at.is_(None))
        )
        if active is not None:
            active.ended_at, active.ended_by = now, "tenant"
            await uow.audit.record(
                f"reporter:{identity.id}",
                "advocate.ended",
                case_id=case.id,
                at=now,
                detail={"by": "tenant"},
            )

    async def _nominate_advocate(
        self,
        uow: UnitOfWork,
        effect: NominateAdvocate,
        identity: ChannelIdentity,
        inbound_id: int | None,
        now: datetime,
    ) -> None:
        case = await uow.cases.by_reference(effect.reference)
        if case is None:
            return
        advocate = Person(name=effect.details[:200])
        uow.session.add(advocate)
        await uow.session.flush()
        uow.session.add(
            Advocacy(
                case_id=case.id,
                advocate_id=advocate.id,
                relationship_to_tenant=effect.details[:200],
                started_at=now,
            )
        )
        uow.session.add(
            ConsentRecord(
                case_id=case.id,
                person_id=identity.person_id,
                kind="tenant_nominates_advocate",
                given=True,
                recorded_at=now,
                inbound_message_id=inbound_id,
                note="nominated by the tenant directly",
            )
        )
        await uow.audit.record(
            f"reporter:{identity.id}", "advocate.nominated", case_id=case.id, at=now
        )
        await uow.actions.schedule(
            "officer_flag",
            now,
            case_id=case.id,
            dedupe_key=f"advocate:{inbound_id}",
            payload={"reason": "the tenant named a new advocate: check their details"},
        )

    async def _save_case(
        self,
        uow: UnitOfWork,
        effect: SaveCase,
        identity: ChannelIdentity,
        inbound_id: int | None,
        reference: str | None,
        state: ConversationState,
        now: datetime,
    ) -> str:
        draft = effect.draft
        case = await uow.cases.by_reference(reference) if reference else None
        created = case is None
        if case is None:
            year = self.calendar.local(draft.received_at).year
            case = Case(
                reference=await uow.cases.next_reference(year),
                received_at=draft.received_at,
                reporter_identity_id=identity.id,
                created_at=now,
                priority=draft.priority,
                category=draft.category,
                status=effect.status,
            )
            await uow.cases.add(case)
            await uow.cases.add_incident(
                Incident(
                    case_id=case.id,
                    reported_at=draft.received_at,
                    description=draft.description,
                    category=draft.category,
                    inbound_message_id=inbound_id,
                )
            )
            await uow.audit.record(
                f"reporter:{identity.id}",
                "case.created",
                case_id=case.id,
                at=now,
                detail={"channel": identity.channel},
            )
        await self._fill_case(uow, case, draft, identity, effect.status, now)
        if draft.risk_level is not None:
            uow.session.add(
                RiskAssessment(
                    case_id=case.id,
                    answers=draft.risk_answers,
                    score=draft.risk_score or 0,
                    level=draft.risk_level,
                    support_referral=draft.support_referral,
                    reasons=list(draft.risk_reasons),
                    assessed_at=now,
                )
            )
        await self._link_pending_evidence(uow, case, state)
        if effect.alert:
            await uow.actions.schedule(
                "alert_officer",
                now,
                case_id=case.id,
                dedupe_key=f"{case.reference}:alert:{effect.alert}",
                payload={"reason": effect.alert},
            )
        if effect.submitted:
            await self._record_consents(uow, case, draft, identity, inbound_id, now)
            for planned in self.rules.follow_ups(
                case,
                deadline_at=draft.deadline_at,
                graffiti_due_at=draft.graffiti_due_at,
                offensive_graffiti=draft.offensive_graffiti,
                update_every_days=draft.update_every_days,
                now=now,
            ):
                await uow.actions.schedule(
                    planned.kind,
                    planned.due_at,
                    case_id=case.id,
                    dedupe_key=planned.dedupe_key,
                    payload=planned.payload,
                )
            await uow.audit.record(
                f"reporter:{identity.id}",
                "case.submitted",
                case_id=case.id,
                at=now,
                detail={"priority": case.priority},
            )
        log.info(
            "case %s %s (%s, %s)",
            case.reference,
            "created" if created else "updated",
            case.priority,
            case.category,
        )
        return case.reference

    async def _fill_case(
        self,
        uow: UnitOfWork,
        case: Case,
        draft: CaseDraft,
        identity: ChannelIdentity,
        status: str,
        now: datetime,
    ) -> None:
        answers = draft.answers
        case.status = status if case.status != "open" else "open"
        case.priority, case.category = draft.priority, draft.category
        case.categories = list(draft.categories)
        case.hate, case.hate_perceived_by_reporter = draft.hate, draft.hate_perceived_by_reporter
        case.emergency, case.not_asb = draft.emergency, draft.not_asb
        case.risk_level = draft.risk_level
        case.triage_reasons = list(draft.reasons)
        case.deadline_at = draft.deadline_at
        case.anonymous = draft.anonymous
        case.summary = draft.description[:500]
        case.location = str(answers.get("graffiti_location") or answers.get("where") or "") or None
        case.area_code, case.block = self.rules.place(
            " ".join(
                str(answers.get(k) or "") for k in ("where", "reporter_address", "tenant_address")
            ),
            case.location,
        )
        case.update_every_days = draft.update_every_days
        case.preferred_contact = (
            str(answers.get("tenant_preferred_contact") or answers.get("contact_method") or "")
            or None
        )
        case.adjustments = {
            key: answers[key]
            for key in (
                "adjustments",
                "interpreter_language",
                "safe_messages",
                "da_safe_contact",
                "contact_phone",
                "contact_email",
                "support",
            )
            if answers.get(key) not in (None, "", [])
        }
        if case.officer_id is None:
            chosen = self.rules.allocate(
                await uow.officers.open_case_counts(),
                area=case.area_code,
                p1_out_of_hours=draft.priority == "P1" and not self.calendar.is_open(now),
            )
            if chosen is not None and await uow.officers.get(chosen[0]) is not None:
                case.officer_id = chosen[0]
        case.updated_at = now
        if draft.third_party:
            await self._third_party(uow, case, draft, identity)
        elif not draft.anonymous:
            case.reporter_id = identity.person_id
            person = await uow.session.get(Person, identity.person_id)
            if person is not None:
                person.name = str(answers.get("reporter_name") or person.name or "") or None
                address = answers.get("reporter_address")
                if isinstance(address, str) and address.strip().lower() == "same":
                    address = answers.get("where")
                person.address = str(address or person.address or "") or None
        await uow.session.flush()

    async def _third_party(
        self, uow: UnitOfWork, case: Case, draft: CaseDraft, identity: ChannelIdentity
    ) -> None:
        answers = draft.answers
        if case.reporter_id is None:
            tenant = Person(
                name=str(answers.get("tenant_name") or "") or None,
                address=str(answers.get("tenant_address") or "") or None,
            )
            uow.session.add(tenant)
            await uow.session.flush()
            case.reporter_id = tenant.id
            contact = str(answers.get("tenant_contact") or "")
            channel, address = _contact_identity(contact)
            if channel and address and await uow.people.find_identity(channel, address) is None:
                uow.session.add(
                    ChannelIdentity(person_id=tenant.id, channel=channel, address=address)
                )
        active = await uow.session.scalar(
            select(Advocacy).where(Advocacy.case_id == case.id, Advocacy.ended_at.is_(None))
        )
        if active is None:
            advocate = await uow.session.get(Person, identity.person_id)
            if advocate is not None and answers.get("advocate_name"):
                advocate.name = str(answers["advocate_name"])[:200]
            uow.session.add(
                Advocacy(
                    case_id=case.id,
                    advocate_id=identity.person_id,
                    relationship_to_tenant=str(answers.get("advocate_name") or "")[:200] or None,
                )
            )

    async def _record_consents(
        self,
        uow: UnitOfWork,
        case: Case,
        draft: CaseDraft,
        identity: ChannelIdentity,
        inbound_id: int | None,
        now: datetime,
    ) -> None:
        answers = draft.answers
        kinds = {
            "share_with_police": answers.get("share_consent"),
            "share_with_council": answers.get("share_consent"),
            "tenant_consents_to_advocate": answers.get("tenant_consent"),
        }
        for kind, answer in kinds.items():
            if answer in ("yes", "no"):
                uow.session.add(
                    ConsentRecord(
                        case_id=case.id,
                        person_id=identity.person_id,
                        kind=kind,
                        given=answer == "yes",
                        recorded_at=now,
                        inbound_message_id=inbound_id,
                        note="given by the advocate on the tenant's behalf"
                        if kind == "tenant_consents_to_advocate"
                        else None,
                    )
                )

    async def _keep_evidence(
        self,
        uow: UnitOfWork,
        attachments: Sequence[Attachment],
        case: Case | None,
        inbound_id: int | None,
    ) -> list[int]:
        ids = []
        limit = self.settings.conversation.attachment_max_bytes
        for attachment in attachments:
            data = attachment.data or b""
            digest = hashlib.sha256(data).hexdigest()
            stored = ""
            if data and len(data) <= limit:
                stored = await asyncio.to_thread(_store_file, self.evidence_dir, digest, data)
            evidence = Evidence(
                case_id=case.id if case else None,
                inbound_message_id=inbound_id,
                kind=attachment.kind,
                content_type=attachment.content_type,
                filename=attachment.filename,
                size=attachment.size or len(data),
                sha256=digest,
                stored_at=stored or (attachment.url or "not fetched"),
            )
            uow.session.add(evidence)
            await uow.session.flush()
            ids.append(evidence.id)
        return ids

    async def _link_pending_evidence(
        self, uow: UnitOfWork, case: Case, state: ConversationState
    ) -> None:
        for evidence_id in state.answers.pop("_evidence_ids", []):
            evidence = await uow.session.get(Evidence, evidence_id)
            if evidence is not None and evidence.case_id is None:
                evidence.case_id = case.id

    async def _case_id(self, uow: UnitOfWork, reference: str | None) -> int | None:
        if not reference:
            return None
        case = await uow.cases.by_reference(reference)
        return case.id if case else None

    @staticmethod
    def _reply_status(message: InboundMessage, identity: ChannelIdentity, inline: bool) -> str:
        """inline (the channel answers in its response), pending (the outbox sends it) or
        suppressed (RFC 3834 mail, or a number Twilio has opted out, which answers STOP
        itself). Suppressed replies are still kept, for the transcript."""
        if not message.auto_reply_allowed:
            return "suppressed"
        if identity.opted_out_at is not None and message.channel in (Channel.SMS, Channel.WHATSAPP):
            return "suppressed"
        return "inline" if inline else "pending"

    async def _queue_replies(
        self,
        uow: UnitOfWork,
        replies: Sequence[Reply],
        identity: ChannelIdentity,
        inbound_id: int | None,
        status: str,
        reference: str | None,
        context: dict[str, str] | None = None,
    ) -> None:
        case_id = await self._case_id(uow, reference)
        group = f"reply:{inbound_id}"
        for index, reply in enumerate(replies):
            await uow.outbox.enqueue(
                OutboxMessage(
                    idempotency_key=f"reply:{inbound_id}:{index}",
                    channel=identity.channel,
                    recipient=identity.address,
                    identity_id=identity.id,
                    case_id=case_id,
                    body=reply.text,
                    extra={
                        "options": [[o.value, o.label] for o in reply.options],
                        "multiple": reply.multiple,
                        "question_id": reply.question_id,
                        "urgent": reply.urgent,
                        "group": group,
                        "reference": reference,
                        "context": dict(context or {}),
                    },
                    status=status,
                    next_attempt_at=self.clock(),
                )
            )

    # --- idle conversations ---------------------------------------------------------------

    async def expire_idle(self, conversation_id: int, version: int) -> bool:
        """Save a conversation's partial report if the reporter has not written since.

        Returns:
            True if a partial report was saved.
        """
        async with self.storage.unit_of_work() as uow:
            conversation = await uow.session.get(Conversation, conversation_id)
            if conversation is None or conversation.version != version:
                return False
            identity = await uow.session.get(ChannelIdentity, conversation.identity_id)
            if identity is None:
                return False
            state = ConversationState.from_dict(conversation.state)
            now = self.clock()
            ctx = Context(
                policy=self.policy,
                calendar=self.calendar,
                catalog=self.catalog,
                now=now,
                landlord=self.settings.service.landlord,
            )
            result = on_idle(state, ctx)
            if not result.effects:
                return False
            result = await self._apply(
                uow,
                result,
                identity,
                None,
                conversation,
                InboundMessage(
                    channel=Channel(identity.channel),
                    sender=identity.address,
                    external_id="",
                    text="",
                    received_at=now,
                ),
            )
            conversation.state = result.state.to_dict()
            await uow.conversations.save(conversation)
            return True

    async def run_idle_checks(self, limit: int = 100) -> int:
        """Claim due idle checks and run them (the scheduler calls this)."""
        async with self.storage.unit_of_work() as uow:
            mine = await uow.actions.claim_due(
                self.clock(), "intake-idle", limit=limit, kinds=OWN_KINDS
            )
            jobs = [(a.id, a.payload) for a in mine]
            for action in mine:
                await uow.actions.finish(action, self.clock())
        saved = 0
        for _, payload in jobs:
            saved += await self.expire_idle(
                int(payload["conversation_id"]), int(payload["version"])
            )
        return saved


def _store_file(folder: Path, name: str, data: bytes) -> str:
    """Write evidence once, named by its SHA-256 (blocking: run in a thread)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not path.exists():
        path.write_bytes(data)
    return str(path)


def _contact_identity(contact: str) -> tuple[str | None, str | None]:
    email = re.search(r"[^@\s]+@[^@\s]+\.[^@\s]+", contact)
    if email:
        return "email", email.group(0).lower()
    digits = re.sub(r"[^\d+]", "", contact)
    if len(digits) >= 10:
        if digits.startswith("07"):
            digits = "+44" + digits[1:]
        return "sms", digits
    return None, None


def _serialise(replies: Sequence[Reply]) -> str:
    return json.dumps(
        [
            {
                "text": r.text,
                "options": [[o.value, o.label] for o in r.options],
                "multiple": r.multiple,
                "urgent": r.urgent,
            }
            for r in replies
        ]
    )


def _stored_replies(response: str | None) -> tuple[Reply, ...]:
    if not response:
        return ()
    return tuple(
        Reply(
            r["text"],
            options=tuple(Option(v, label) for v, label in r["options"]),
            multiple=r.get("multiple", False),
            urgent=r.get("urgent", False),
        )
        for r in json.loads(response)
    )


def _redact(value: str) -> str:
    return value[:6] + "…" if len(value) > 8 else value
