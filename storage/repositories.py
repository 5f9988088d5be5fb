"""Repositories: the only code that writes SQL. One per aggregate, all on one session.

They never commit: the unit of work does, once, so a conversation step's state, case rows,
outbox rows and scheduled actions land together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, inspect, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from storage import lean
from storage.models import (
    AuditEvent,
    Case,
    ChannelIdentity,
    Conversation,
    InboundMessage,
    Incident,
    Officer,
    OutboxMessage,
    Person,
    ReferenceCounter,
    ScheduledAction,
    SurveyResponse,
)

REFERENCE_PREFIX = "ASB"


def _insert(session: AsyncSession, model: type[Any]) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# --- statements on the path of every inbound message ---------------------------------------
# Compiled once per dialect and run on the driver connection in the session's transaction
# (storage/lean.py): no ORM statement construction, execution context or flush per message
# (these made up most of a webhook's time). Everything else below uses the ORM.

_INBOUND: Table = InboundMessage.__table__  # type: ignore[assignment]
_IDENTITIES: Table = ChannelIdentity.__table__  # type: ignore[assignment]
_PEOPLE: Table = Person.__table__  # type: ignore[assignment]
_CONVERSATIONS: Table = Conversation.__table__  # type: ignore[assignment]
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
_ACTIONS: Table = ScheduledAction.__table__  # type: ignore[assignment]
_OFFICERS: Table = Officer.__table__  # type: ignore[assignment]
_IDENTITY_KEYS = tuple(column.key for column in _IDENTITIES.columns)
_CONVERSATION_KEYS = tuple(column.key for column in _CONVERSATIONS.columns)


async def _insert_once(
    session: AsyncSession, table: Table, unique: Sequence[str], values: Mapping[str, Any]
) -> int | None:
    """Insert a row unless one with the same ``unique`` columns exists; the new id, or None
    when it existed (on PostgreSQL, after waiting for a racing insert to commit)."""
    rows = await lean.run(
        session,
        f"{table.name}.insert_once({','.join(unique)})",
        lambda insert: (
            insert(table).on_conflict_do_nothing(index_elements=list(unique)).returning(table.c.id)
        ),
        values,
    )
    return None if not rows else int(rows[0][0])


def _attach(session: AsyncSession, model: type[Any], values: Mapping[str, Any]) -> Any:
    """The persistent object for a row read with Core, without loading it again: the one
    already in the session, or a new one attached as loaded."""
    existing = session.identity_map.get(session.identity_key(model, values["id"]))
    if existing is not None:
        return existing
    instance = model(**values)
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


class PeopleRepository:
    """People and the channel identities they are reached on."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def identity(self, channel: str, address: str) -> ChannelIdentity:
        """The identity for ``(channel, address)``, created with a new person if unseen.

        Safe under concurrency: a racing insert is absorbed by the unique constraint.
        """
        return (await self.identity_and_whether_new(channel, address))[0]

    async def identity_and_whether_new(
        self, channel: str, address: str
    ) -> tuple[ChannelIdentity, bool]:
        """:meth:`identity`, and whether this call created it (a new identity has no
        conversation, case or survey yet, so the caller need not look for them)."""
        found = await self.find_identity(channel, address)
        if found is not None:
            return found, False
        now = datetime.now(UTC)
        person_id = (
            await lean.run(
                self.session,
                "person.insert",
                lambda _: _PEOPLE.insert().returning(_PEOPLE.c.id),
                {"created_at": now},
            )
        )[0][0]
        values = {"person_id": person_id, "channel": channel, "address": address, "created_at": now}
        inserted = await _insert_once(self.session, _IDENTITIES, ("channel", "address"), values)
        if inserted is None:  # a racing writer got there first
            found = await self.find_identity(channel, address)
            assert found is not None
            return found, False
        return _attach(
            self.session, ChannelIdentity, {"id": inserted, "opted_out_at": None, **values}
        ), True

    async def find_identity(self, channel: str, address: str) -> ChannelIdentity | None:
        """The identity for ``(channel, address)``, if we have seen it."""
        rows = await lean.run(
            self.session,
            "identity.find",
            lambda _: select(_IDENTITIES).where(
                _IDENTITIES.c.channel == bindparam("channel"),
                _IDENTITIES.c.address == bindparam("address"),
            ),
            {"channel": channel, "address": address},
        )
        if not rows:
            return None
        identity: ChannelIdentity = _attach(
            self.session, ChannelIdentity, dict(zip(_IDENTITY_KEYS, rows[0], strict=True))
        )
        return identity

    async def identities_of(self, person_id: int) -> Sequence[ChannelIdentity]:
        """Every channel a person can be reached on (closure checks try more than one)."""
        result = await self.session.execute(
            select(ChannelIdentity)
            .where(ChannelIdentity.person_id == person_id)
            .order_by(ChannelIdentity.id)
        )
        return result.scalars().all()

    async def link(self, identity: ChannelIdentity, person_id: int) -> None:
        """Record that ``identity`` belongs to an existing person."""
        identity.person_id = person_id
        await self.session.flush()


class CaseRepository:
    """Cases, their references and incidents."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def next_reference(self, year: int) -> str:
        """A new unique reference such as ``ASB-2026-000123``, numbered per year.

        The counter row is updated in the caller's transaction, so two writers never get the
        same number (PostgreSQL row lock; SQLite's single writer).
        """
        await self.session.execute(
            _insert(self.session, ReferenceCounter)
            .values(year=year, last=0)
            .on_conflict_do_nothing(index_elements=["year"])
        )
        result = await self.session.execute(
            update(ReferenceCounter)
            .where(ReferenceCounter.year == year)
            .values(last=ReferenceCounter.last + 1)
            .returning(ReferenceCounter.last)
        )
        number = result.scalar_one()
        return f"{REFERENCE_PREFIX}-{year}-{number:06d}"

    async def add(self, case: Case) -> Case:
        """Store a new case (its reference must already be set)."""
        self.session.add(case)
        await self.session.flush()
        return case

    async def by_reference(self, reference: str) -> Case | None:
        """The case with this reference (case-insensitive), if any."""
        result = await self.session.execute(
            select(Case).where(Case.reference == reference.strip().upper())
        )
        return result.scalar_one_or_none()

    async def get(self, case_id: int) -> Case | None:
        """The case with this id, if any."""
        return await self.session.get(Case, case_id)

    async def add_incident(self, incident: Incident) -> Incident:
        """Add an incident (a diary entry) to a case."""
        self.session.add(incident)
        await self.session.flush()
        return incident

    async def incidents_since(self, case_id: int, since: datetime) -> int:
        """How many incidents a case has had since ``since`` (case-review threshold)."""
        result = await self.session.execute(
            select(func.count(Incident.id)).where(
                Incident.case_id == case_id, Incident.reported_at >= since
            )
        )
        return int(result.scalar_one())

    async def by_ids(self, case_ids: Iterable[int]) -> dict[int, Case]:
        """Several cases in one query (a scheduler batch loads its cases together)."""
        wanted = sorted(set(case_ids))
        if not wanted:
            return {}
        result = await self.session.execute(select(Case).where(Case.id.in_(wanted)))
        return {case.id: case for case in result.scalars()}

    async def incident_counts(self, case_ids: Iterable[int], since: datetime) -> dict[int, int]:
        """Incidents per case since ``since``, for many cases in one query (cases with none
        are left out)."""
        wanted = sorted(set(case_ids))
        if not wanted:
            return {}
        result = await self.session.execute(
            select(Incident.case_id, func.count(Incident.id))
            .where(Incident.case_id.in_(wanted), Incident.reported_at >= since)
            .group_by(Incident.case_id)
        )
        return {int(case_id): int(count) for case_id, count in result.all()}

    async def last_incident_at(self, case_id: int) -> datetime | None:
        """When the latest incident on a case was reported (closure counts from it)."""
        result = await self.session.execute(
            select(func.max(Incident.reported_at)).where(Incident.case_id == case_id)
        )
        return result.scalar_one_or_none()

    async def open_cases(self, *, officer_id: str | None = None) -> Sequence[Case]:
        """Every open case (optionally one officer's), soonest deadline first."""
        query = select(Case).where(Case.status == "open")
        if officer_id is not None:
            query = query.where(Case.officer_id == officer_id)
        result = await self.session.execute(
            query.order_by(Case.deadline_at.is_(None), Case.deadline_at, Case.id)
        )
        return result.scalars().all()

    async def received_between(self, start: datetime, end: datetime) -> Sequence[Case]:
        """Cases received in ``[start, end)`` (monthly figures)."""
        result = await self.session.execute(
            select(Case)
            .where(Case.received_at >= start, Case.received_at < end, Case.status != "draft")
            .order_by(Case.id)
        )
        return result.scalars().all()

    async def list(
        self,
        *,
        status: str | None = None,
        officer_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[Case]:
        """Cases ordered by deadline (soonest first), optionally filtered."""
        query = select(Case)
        if status is not None:
            query = query.where(Case.status == status)
        if officer_id is not None:
            query = query.where(Case.officer_id == officer_id)
        query = query.order_by(Case.deadline_at.is_(None), Case.deadline_at, Case.id)
        result = await self.session.execute(query.limit(limit).offset(offset))
        return result.scalars().all()


@dataclass(frozen=True)
class Recorded:
    """The stored inbound message's id, whether this delivery was the first and, for a
    redelivery, what was answered the first time."""

    id: int
    first_delivery: bool
    response: str | None = None


@dataclass
class Written:
    """What a unit of work queued for others to act on, so its caller wakes only who must:
    messages for the outbox dispatcher, and the earliest follow-up for the casework claimer."""

    deliveries: int = 0
    """Outbox messages queued to be sent (not those the channel answered inline)."""
    earliest: dict[str, datetime] = field(default_factory=dict)
    """The soonest ``due_at`` among the actions scheduled, by kind."""

    def due(self, at: datetime, kind: str) -> None:
        """Note an action of ``kind`` due at ``at``."""
        known = self.earliest.get(kind)
        if known is None or at < known:
            self.earliest[kind] = at

    def look_again(self, at: datetime) -> None:
        """Casework should look at its follow-ups at ``at`` (something may have moved them:
        an officer's answer, a survey answer), though nothing new was scheduled here."""
        self.due(at, "")

    @property
    def earliest_due(self) -> datetime | None:
        """The soonest ``due_at`` among every action scheduled."""
        return min(self.earliest.values(), default=None)

    def earliest_due_except(self, kinds: Collection[str]) -> datetime | None:
        """The soonest ``due_at`` among the actions scheduled, leaving out ``kinds``."""
        return min((at for k, at in self.earliest.items() if k not in kinds), default=None)


class InboundRepository:
    """Inbound messages, stored raw before they are acknowledged; deduplicated."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self, channel: str, external_id: str, payload: bytes, sender: str | None = None
    ) -> Recorded:
        """Store a delivery once. A redelivery (same channel and id) gets the first row's id
        and answer; on PostgreSQL it waits for a first delivery still in progress to commit."""
        values = {
            "channel": channel,
            "external_id": external_id,
            "payload": payload,
            "sender": sender,
            "received_at": datetime.now(UTC),
            "status": "received",
        }
        inserted = await _insert_once(self.session, _INBOUND, ("channel", "external_id"), values)
        if inserted is not None:
            return Recorded(inserted, first_delivery=True)
        (first_id, response), = await lean.run(
            self.session,
            "inbound.find",
            lambda _: select(_INBOUND.c.id, _INBOUND.c.response).where(
                _INBOUND.c.channel == bindparam("channel"),
                _INBOUND.c.external_id == bindparam("external_id"),
            ),
            {"channel": channel, "external_id": external_id},
        )
        return Recorded(first_id, first_delivery=False, response=response)

    async def count_from(self, senders: Collection[tuple[str, str]], since: datetime) -> int:
        """How many messages arrived from any of ``(channel, sender)`` since ``since`` (a
        reporter who answered a closure check is not silent)."""
        if not senders:
            return 0
        result = await self.session.execute(
            select(func.count(InboundMessage.id)).where(
                InboundMessage.received_at >= since,
                or_(
                    *(
                        and_(InboundMessage.channel == channel, InboundMessage.sender == sender)
                        for channel, sender in senders
                    )
                ),
            )
        )
        return int(result.scalar_one())

    async def mark(
        self,
        message_id: int,
        status: str,
        *,
        response: str | None = None,
        error: str | None = None,
    ) -> None:
        """Record what became of a message and what we answered."""
        await lean.run(
            self.session,
            "inbound.mark",
            lambda _: (
                _INBOUND.update()
                .where(_INBOUND.c.id == bindparam("message_id"))
                .values(
                    status=bindparam("status"),
                    response=func.coalesce(
                        bindparam("response", type_=_INBOUND.c.response.type),
                        _INBOUND.c.response,
                    ),
                    error=func.coalesce(
                        bindparam("error", type_=_INBOUND.c.error.type), _INBOUND.c.error
                    ),
                )
            ),
            {"message_id": message_id, "status": status, "response": response, "error": error},
        )


class OutboxRepository:
    """Outgoing messages: enqueued in the step's transaction, claimed by the dispatcher."""

    def __init__(self, session: AsyncSession, written: Written | None = None) -> None:
        self.session = session
        self.written = written if written is not None else Written()

    async def enqueue(self, message: OutboxMessage) -> bool:
        """Queue a message unless one with the same idempotency key exists. True if queued."""
        values = {  # columns left out get the model's defaults (Core applies them)
            column.key: getattr(message, column.key)
            for column in _OUTBOX.columns
            if getattr(message, column.key, None) is not None
        }
        queued = await _insert_once(self.session, _OUTBOX, ("idempotency_key",), values)
        if queued is not None and values.get("status", "pending") == "pending":
            self.written.deliveries += 1
        return queued is not None

    async def enqueue_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Queue many messages in one statement; rows whose idempotency key exists are skipped.

        Every row must carry the same columns (the scheduler fills them all in).
        """
        if not rows:
            return
        await self.session.execute(
            _insert(self.session, OutboxMessage).on_conflict_do_nothing(
                index_elements=["idempotency_key"]
            ),
            [dict(row) for row in rows],
        )
        self.written.deliveries += sum(1 for r in rows if r.get("status", "pending") == "pending")

    async def by_key(self, idempotency_key: str) -> OutboxMessage | None:
        """The message queued under this key, if any (did the alert go out?)."""
        result = await self.session.execute(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)
        )
        return result.scalar_one_or_none()

    async def claim(
        self,
        now: datetime,
        worker: str,
        limit: int = 50,
        *,
        lease: timedelta = timedelta(minutes=5),
    ) -> Sequence[OutboxMessage]:
        """Take up to ``limit`` due messages for ``worker``; no two workers get the same one.

        A claimed row is leased until ``now + lease`` (kept in ``next_attempt_at``): a row
        still ``sending`` after its lease ran out was abandoned by a dead worker and is
        claimed again, so every message is delivered at least once.
        """
        due = and_(
            OutboxMessage.status.in_(("pending", "sending")),
            OutboxMessage.next_attempt_at <= now,
        )
        return await _claim(
            self.session,
            OutboxMessage,
            now,
            worker,
            limit,
            due=due,
            order=OutboxMessage.next_attempt_at,
            claimed={"status": "sending", "claimed_by": worker, "next_attempt_at": now + lease},
        )


class ActionRepository:
    """Scheduled actions: follow-ups as rows, claimed exactly once."""

    def __init__(self, session: AsyncSession, written: Written | None = None) -> None:
        self.session = session
        self.written = written if written is not None else Written()

    async def schedule(
        self,
        kind: str,
        due_at: datetime,
        *,
        case_id: int | None = None,
        dedupe_key: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> bool:
        """Schedule an action; with a ``dedupe_key`` scheduling twice is harmless. True if new."""
        values = {
            "kind": kind,
            "due_at": due_at,
            "case_id": case_id,
            "dedupe_key": dedupe_key,
            "payload": payload or {},
            "status": "pending",
            "attempts": 0,
        }
        new = await _insert_once(self.session, _ACTIONS, ("dedupe_key",), values) is not None
        if new:
            self.written.due(due_at, kind)
        return new

    async def schedule_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Schedule many actions in one statement; rows whose dedupe key exists are skipped.

        Every row must carry kind, due_at, case_id, dedupe_key and payload.
        """
        if not rows:
            return
        await self.session.execute(
            _insert(self.session, ScheduledAction).on_conflict_do_nothing(
                index_elements=["dedupe_key"]
            ),
            [{**row, "status": "pending", "attempts": 0} for row in rows],
        )
        for row in rows:
            self.written.due(row["due_at"], row["kind"])

    async def claim_due(
        self,
        now: datetime,
        worker: str,
        limit: int = 100,
        *,
        kinds: Collection[str] | None = None,
    ) -> Sequence[ScheduledAction]:
        """Take up to ``limit`` due actions for ``worker``; each is claimed by one worker only.

        Args:
            kinds: only actions of these kinds (each service claims the kinds it handles);
                None claims every kind.
        """
        due = and_(ScheduledAction.status == "pending", ScheduledAction.due_at <= now)
        if kinds is not None:
            due = and_(due, ScheduledAction.kind.in_(sorted(kinds)))
        return await _claim(
            self.session,
            ScheduledAction,
            now,
            worker,
            limit,
            due=due,
            order=ScheduledAction.due_at,
            claimed={"status": "running", "claimed_by": worker, "claimed_at": now},
        )

    async def take(
        self,
        now: datetime,
        worker: str,
        limit: int = 100,
        *,
        kinds: Collection[str] | None = None,
        ids: Collection[int] | None = None,
    ) -> Sequence[ScheduledAction]:
        """Take due actions for the rest of this transaction, to run and finish in it.

        PostgreSQL locks them (``FOR UPDATE SKIP LOCKED``) and writes nothing: other workers
        skip them until this transaction ends. SQLite marks them ``running``: the write makes
        this transaction the database's only writer, across processes. Either way, call
        ``finish_taken`` for those that are done before committing; if the transaction rolls
        back they are simply pending again. Half the writes of ``claim_due`` then ``finish``.

        Args:
            kinds: only these kinds (None: every kind).
            ids: only these actions (None: any due action).
        """
        due = and_(ScheduledAction.status == "pending", ScheduledAction.due_at <= now)
        if kinds is not None:
            due = and_(due, ScheduledAction.kind.in_(sorted(kinds)))
        if ids is not None:
            due = and_(due, ScheduledAction.id.in_(sorted(ids)))
        if not _is_postgres(self.session):
            return await _claim(
                self.session,
                ScheduledAction,
                now,
                worker,
                limit,
                due=due,
                order=ScheduledAction.due_at,
                claimed={"status": "running", "claimed_by": worker, "claimed_at": now},
            )
        result = await self.session.execute(
            select(ScheduledAction)
            .where(due)
            .order_by(ScheduledAction.due_at, ScheduledAction.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return result.scalars().all()

    async def finish_taken(self, action_ids: Collection[int], now: datetime, worker: str) -> None:
        """Mark actions taken with ``take`` done, in one statement."""
        if not action_ids:
            return
        values: dict[str, Any] = {"status": "done", "completed_at": now, "last_error": None}
        if _is_postgres(self.session):  # take wrote nothing: record the claim now
            values.update(claimed_by=worker, claimed_at=now, attempts=ScheduledAction.attempts + 1)
        await self.session.execute(
            update(ScheduledAction)
            .where(ScheduledAction.id.in_(sorted(action_ids)))
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    async def claim(
        self, action_ids: Collection[int], now: datetime, worker: str
    ) -> Sequence[ScheduledAction]:
        """Claim these actions if they are still pending and due (one at a time, to isolate a
        failing one); an action another worker holds or has finished is left out."""
        if not action_ids:
            return []
        return await _claim(
            self.session,
            ScheduledAction,
            now,
            worker,
            len(action_ids),
            due=and_(
                ScheduledAction.id.in_(sorted(action_ids)),
                ScheduledAction.status == "pending",
                ScheduledAction.due_at <= now,
            ),
            order=ScheduledAction.due_at,
            claimed={"status": "running", "claimed_by": worker, "claimed_at": now},
        )

    async def record_failure(
        self,
        action_id: int,
        now: datetime,
        error: str,
        *,
        retry_at: Callable[[int], datetime | None],
    ) -> ScheduledAction | None:
        """Count a failed run of a pending action and set when it is tried again.

        Args:
            retry_at: given the failures so far, when to try again; None gives up
                (status ``failed``).

        Returns:
            The action, or None if another worker holds it or it is no longer pending.
        """
        query = select(ScheduledAction).where(
            ScheduledAction.id == action_id, ScheduledAction.status == "pending"
        )
        if _is_postgres(self.session):
            query = query.with_for_update(skip_locked=True)
        action = (await self.session.execute(query)).scalar_one_or_none()
        if action is None:
            return None
        action.attempts = (action.attempts or 0) + 1
        action.last_error = error[:2000]
        action.claimed_by, action.claimed_at = None, now
        retry = retry_at(action.attempts)
        if retry is None:
            action.status, action.completed_at = "failed", now
        else:
            action.due_at = retry
        await self.session.flush()
        return action

    async def next_due_at(self, *, kinds: Collection[str] | None = None) -> datetime | None:
        """When the next pending action falls due (so the scheduler can sleep until then)."""
        query = select(func.min(ScheduledAction.due_at)).where(ScheduledAction.status == "pending")
        if kinds is not None:
            query = query.where(ScheduledAction.kind.in_(sorted(kinds)))
        result = await self.session.execute(query)
        return result.scalar_one_or_none()

    async def cancel_pending(
        self, case_id: int, kinds: Collection[str], now: datetime, *, reason: str
    ) -> int:
        """Cancel a case's pending actions of these kinds (first contact made, case closed).

        Returns:
            How many were cancelled.
        """
        result = await self.session.execute(
            update(ScheduledAction)
            .where(
                ScheduledAction.case_id == case_id,
                ScheduledAction.status == "pending",
                ScheduledAction.kind.in_(sorted(kinds)),
            )
            .values(status="cancelled", completed_at=now, last_error=reason)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def listing(
        self,
        *,
        statuses: Collection[str] = ("pending",),
        kinds: Collection[str] | None = None,
        due_before: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[tuple[ScheduledAction, str | None]]:
        """Actions with their case reference, soonest first (``intake jobs list``)."""
        query = (
            select(ScheduledAction, Case.reference)
            .outerjoin(Case, Case.id == ScheduledAction.case_id)
            .where(ScheduledAction.status.in_(sorted(statuses)))
        )
        if kinds is not None:
            query = query.where(ScheduledAction.kind.in_(sorted(kinds)))
        if due_before is not None:
            query = query.where(ScheduledAction.due_at <= due_before)
        result = await self.session.execute(
            query.order_by(ScheduledAction.due_at, ScheduledAction.id).limit(limit)
        )
        return [(action, reference) for action, reference in result.all()]

    async def count_by_status(
        self, *, kinds: Collection[str] | None = None, due_before: datetime | None = None
    ) -> dict[str, int]:
        """How many actions are in each status (optionally only those due by a time)."""
        query = select(ScheduledAction.status, func.count(ScheduledAction.id))
        if kinds is not None:
            query = query.where(ScheduledAction.kind.in_(sorted(kinds)))
        if due_before is not None:
            query = query.where(ScheduledAction.due_at <= due_before)
        result = await self.session.execute(query.group_by(ScheduledAction.status))
        return {str(status): int(count) for status, count in result.all()}

    async def pending_for_case(self, case_id: int) -> Sequence[ScheduledAction]:
        """A case's pending actions, soonest first."""
        result = await self.session.execute(
            select(ScheduledAction)
            .where(ScheduledAction.case_id == case_id, ScheduledAction.status == "pending")
            .order_by(ScheduledAction.due_at)
        )
        return result.scalars().all()

    async def finish(
        self,
        action: ScheduledAction,
        now: datetime,
        *,
        status: str = "done",
        error: str | None = None,
    ) -> None:
        """Mark a claimed action done, failed or cancelled."""
        action.status = status
        action.completed_at = now
        action.last_error = error
        await self.session.flush()


async def _claim(
    session: AsyncSession,
    model: Any,
    now: datetime,
    worker: str,
    limit: int,
    *,
    due: Any,
    order: Any,
    claimed: dict[str, Any],
) -> Sequence[Any]:
    # PostgreSQL: lock the due rows, skipping rows another worker holds. SQLite has one writer
    # at a time, so a single UPDATE ... WHERE id IN (SELECT ...) is already exclusive.
    chosen = select(model.id).where(due).order_by(order, model.id).limit(limit)
    if _is_postgres(session):
        chosen = chosen.with_for_update(skip_locked=True)
    result = await session.execute(
        update(model)
        .where(model.id.in_(chosen.scalar_subquery()))
        .values(attempts=model.attempts + 1, **claimed)
        .returning(model)
        .execution_options(synchronize_session=False)
    )
    rows = list(result.scalars().all())
    rows.sort(key=lambda row: (getattr(row, order.key), row.id))
    return rows


def officer_address(channel: str, address: str) -> tuple[str, str | int] | None:
    """How an inbound sender is compared with officers' addresses: the kind of address and
    its value (phone as sent, e-mail in lower case, Telegram chat id), or None when officers
    cannot write on that channel."""
    value = address.strip()
    if channel in ("sms", "whatsapp"):
        return "phone", value.removeprefix("whatsapp:")
    if channel == "email":
        return "email", value.lower()
    if channel == "telegram" and value.lstrip("-").isdigit():
        return "telegram", int(value)
    return None


class OfficerRepository:
    """Officers mirrored from the config's team."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, officer: Officer) -> None:
        """Insert or update an officer from config, keeping any console password."""
        await self.session.merge(officer)
        await self.session.flush()

    async def get(self, officer_id: str) -> Officer | None:
        """The officer with this id, if any."""
        return await self.session.get(Officer, officer_id)

    async def all(self) -> Sequence[Officer]:
        """Every officer, active or not."""
        result = await self.session.execute(select(Officer).order_by(Officer.id))
        return result.scalars().all()

    async def by_address(self, channel: str, address: str) -> Officer | None:
        """The active officer who writes from this address (officers act by replying).

        One prepared query on ids; the officer is loaded only when found.
        """
        key = officer_address(channel, address)
        if key is None:
            return None
        kind, value = key
        column: Any = {
            "phone": _OFFICERS.c.phone,
            "email": func.lower(_OFFICERS.c.email),
            "telegram": _OFFICERS.c.telegram_chat_id,
        }[kind]
        found = await lean.run(
            self.session,
            f"officer.by_{kind}",
            lambda _: (
                select(_OFFICERS.c.id)
                .where(column == bindparam("value"), _OFFICERS.c.active.is_(True))
                .order_by(_OFFICERS.c.id)
                .limit(1)
            ),
            {"value": value},
        )
        return None if not found else await self.session.get(Officer, found[0][0])

    async def addresses(self) -> frozenset[tuple[str, str | int]]:
        """Every active officer's addresses, as :func:`officer_address` gives them."""
        rows = await self.session.execute(
            select(Officer.phone, Officer.email, Officer.telegram_chat_id).where(
                Officer.active.is_(True)
            )
        )
        keys: set[tuple[str, str | int]] = set()
        for phone, email, chat_id in rows:
            if phone:
                keys.add(("phone", str(phone).strip()))
            if email:
                keys.add(("email", str(email).strip().lower()))
            if chat_id is not None:
                keys.add(("telegram", int(chat_id)))
        return frozenset(keys)

    async def open_case_counts(self) -> dict[str, int]:
        """Open cases per officer, for allocation by load."""
        result = await self.session.execute(
            select(Case.officer_id, func.count(Case.id))
            .where(Case.status == "open", Case.officer_id.is_not(None))
            .group_by(Case.officer_id)
        )
        return {str(officer): int(count) for officer, count in result.all()}


class ConversationRepository:
    """Conversation state per channel identity."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_identity(self, identity_id: int) -> Conversation | None:
        """The identity's conversation, locked for this transaction on PostgreSQL.

        The object is not attached to the session: change it, then :meth:`save` it.
        """
        rows = await lean.run(
            self.session,
            "conversation.find",
            lambda insert: (
                select(_CONVERSATIONS)
                .where(_CONVERSATIONS.c.identity_id == bindparam("identity_id"))
                .with_for_update(nowait=False)
                if insert is postgresql.insert
                else select(_CONVERSATIONS).where(
                    _CONVERSATIONS.c.identity_id == bindparam("identity_id")
                )
            ),
            {"identity_id": identity_id},
        )
        if not rows:
            return None
        return Conversation(**dict(zip(_CONVERSATION_KEYS, rows[0], strict=True)))

    async def save(self, conversation: Conversation) -> None:
        """Store the state, bumping its version (a new conversation gets its id)."""
        conversation.version = (conversation.version or 0) + 1
        if inspect(conversation).persistent:  # loaded through the ORM (idle expiry)
            await self.session.flush()
            return
        if conversation.updated_at is None:
            conversation.updated_at = datetime.now(UTC)
        values = {
            "identity_id": conversation.identity_id,
            "state": conversation.state or {},
            "case_id": conversation.case_id,
            "version": conversation.version,
            "updated_at": conversation.updated_at,
        }
        if conversation.id is None:
            conversation.id = (
                await lean.run(
                    self.session,
                    "conversation.insert",
                    lambda _: _CONVERSATIONS.insert().returning(_CONVERSATIONS.c.id),
                    values,
                )
            )[0][0]
            return
        await lean.run(
            self.session,
            "conversation.update",
            lambda _: (
                _CONVERSATIONS.update()
                .where(_CONVERSATIONS.c.id == bindparam("conversation_id"))
                .values(
                    state=bindparam("state"),
                    case_id=bindparam("case_id"),
                    version=bindparam("version"),
                    updated_at=bindparam("updated_at"),
                )
            ),
            {**values, "conversation_id": conversation.id},
        )


class AuditRepository:
    """The audit trail: who saw or changed what."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        actor: str,
        action: str,
        *,
        case_id: int | None = None,
        detail: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> None:
        """Append an audit event."""
        event = AuditEvent(actor=actor, action=action, case_id=case_id, detail=detail or {})
        if at is not None:
            event.at = at
        self.session.add(event)
        await self.session.flush()

    async def for_case(self, case_id: int) -> Sequence[AuditEvent]:
        """A case's audit trail, oldest first."""
        result = await self.session.execute(
            select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.id)
        )
        return result.scalars().all()


class SurveyRepository:
    """Satisfaction surveys after closure and their answers (R-14)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def ask(
        self,
        case_id: int,
        *,
        identity_id: int | None,
        channel: str,
        asked_at: datetime,
        question: str = "tp12",
    ) -> bool:
        """Record that a survey was sent; a second call for the same case is a no-op.

        Returns:
            True if this call recorded it.
        """
        result = await self.session.execute(
            _insert(self.session, SurveyResponse)
            .values(
                case_id=case_id,
                identity_id=identity_id,
                channel=channel,
                question=question,
                asked_at=asked_at,
            )
            .on_conflict_do_nothing(index_elements=["case_id", "question"])
            .returning(SurveyResponse.id)
        )
        return result.scalar_one_or_none() is not None

    async def awaiting_answer(self, identity_id: int, since: datetime) -> SurveyResponse | None:
        """The latest unanswered survey sent to this identity since ``since``."""
        result = await self.session.execute(
            select(SurveyResponse)
            .where(
                SurveyResponse.identity_id == identity_id,
                SurveyResponse.answered_at.is_(None),
                SurveyResponse.asked_at >= since,
            )
            .order_by(SurveyResponse.asked_at.desc(), SurveyResponse.id.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def for_case(self, case_id: int) -> Sequence[SurveyResponse]:
        """A case's surveys."""
        result = await self.session.execute(
            select(SurveyResponse)
            .where(SurveyResponse.case_id == case_id)
            .order_by(SurveyResponse.id)
        )
        return result.scalars().all()


__all__ = [
    "ActionRepository",
    "AuditRepository",
    "CaseRepository",
    "ConversationRepository",
    "InboundRepository",
    "OfficerRepository",
    "OutboxRepository",
    "PeopleRepository",
    "Recorded",
    "SurveyRepository",
]
