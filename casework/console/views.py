"""What the console's pages show, read from the database: the queue, a case, the job board and
the audit trail. Queries select only the columns a page shows and let the database filter,
order and count, so a page costs the same with 100 or 100,000 cases.

The case page builds on ``casework.casefile.case_detail`` (transcript, triage, risk, incidents,
evidence, scheduled actions) and adds what the console needs besides.
"""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from casework.console.auth import Principal
from casework.plan import CaseFacts, update_interval
from storage.models import (
    AuditEvent,
    Case,
    ChannelIdentity,
    Officer,
    OutboxMessage,
    ScheduledAction,
)
from triage.policy import Policy
from triage.taxonomy import CATEGORY_LABELS, Category, Priority

STATUSES: dict[str, tuple[str, ...]] = {
    "active": ("open", "draft"),
    "open": ("open",),
    "draft": ("draft",),
    "closed": ("closed",),
    "all": (),
}
"""The queue's status filter: each choice and the case statuses it shows."""
STATUS_LABELS = {
    "active": "Open or incomplete",
    "open": "Open",
    "draft": "Incomplete (saved with a risk signal)",
    "closed": "Closed",
    "all": "Any status",
}
SENSITIVE_CATEGORIES = frozenset({Category.HATE_INCIDENT.value, Category.DOMESTIC_ABUSE.value})
"""Viewing a case in these (or any hate case) is an audit event (R-19)."""


def category_label(code: str | None) -> str:
    """The category as officers say it."""
    if not code:
        return "-"
    try:
        return CATEGORY_LABELS[Category(code)]
    except ValueError:
        return code.replace("_", " ")


def is_sensitive(case_row: Case) -> bool:
    """A hate or domestic-abuse case: special category data, every view audited."""
    return bool(
        case_row.hate
        or case_row.category in SENSITIVE_CATEGORIES
        or SENSITIVE_CATEGORIES.intersection(case_row.categories or [])
    )


# --- the queue -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilters:
    """The queue's filters, as chosen in its form (unknown values are ignored)."""

    status: str = "active"
    priority: str | None = None
    category: str | None = None
    officer: str | None = None
    area: str | None = None
    breached: bool = False
    page: int = 1

    @classmethod
    def from_query(
        cls, query: Mapping[str, str], *, officers: Sequence[str], areas: Sequence[str]
    ) -> QueueFilters:
        """Read the filters from a query string, keeping only values the form offers."""

        def pick(name: str, allowed: Sequence[str]) -> str | None:
            value = (query.get(name) or "").strip()
            return value if value in allowed else None

        try:
            page = max(1, min(int(query.get("page") or 1), 100_000))
        except ValueError:
            page = 1
        return cls(
            status=pick("status", list(STATUSES)) or "active",
            priority=pick("priority", [p.value for p in Priority]),
            category=pick("category", [c.value for c in Category]),
            officer=pick("officer", [*officers, "none"]),
            area=pick("area", [*areas, "none"]),
            breached=query.get("breached") in ("1", "on", "yes"),
            page=page,
        )

    def query(self, **changes: Any) -> dict[str, str]:
        """These filters as query parameters (for links to other pages)."""
        values = {
            "status": self.status,
            "priority": self.priority,
            "category": self.category,
            "officer": self.officer,
            "area": self.area,
            "breached": "1" if self.breached else None,
            "page": str(self.page),
            **changes,
        }
        return {k: str(v) for k, v in values.items() if v not in (None, "")}


@dataclass(frozen=True)
class QueueRow:
    """One case in the queue."""

    reference: str
    status: str
    priority: str
    category: str
    hate: bool
    officer_id: str | None
    area_code: str | None
    location: str | None
    received_at: datetime
    deadline_at: datetime | None
    first_contact_at: datetime | None
    acknowledged_at: datetime | None
    closed_at: datetime | None
    case_review_flag: bool
    due_at: datetime | None
    """What the countdown counts to: first contact, or the next update once contacted."""
    due_what: str
    breached: bool
    """No first contact and the deadline has passed."""


@dataclass(frozen=True)
class QueuePage:
    """A page of the queue and how many cases match."""

    rows: list[QueueRow]
    total: int
    breached: int
    page: int
    pages: int


_QUEUE_COLUMNS = (
    Case.reference,
    Case.status,
    Case.priority,
    Case.category,
    Case.hate,
    Case.officer_id,
    Case.area_code,
    Case.location,
    Case.received_at,
    Case.deadline_at,
    Case.first_contact_at,
    Case.acknowledged_at,
    Case.closed_at,
    Case.case_review_flag,
    Case.last_update_at,
    Case.update_every_days,
    Case.anonymous,
)


def _awaiting_contact() -> Any:
    return and_(Case.status != "closed", Case.first_contact_at.is_(None))


def _scoped(query: Any, filters: QueueFilters, principal: Principal, now: datetime) -> Any:
    statuses = STATUSES[filters.status]
    if statuses:
        query = query.where(Case.status.in_(statuses))
    if not principal.sees_every_case:
        query = query.where(Case.officer_id == principal.officer_id)
    elif filters.officer == "none":
        query = query.where(Case.officer_id.is_(None))
    elif filters.officer:
        query = query.where(Case.officer_id == filters.officer)
    if filters.priority:
        query = query.where(Case.priority == filters.priority)
    if filters.category:
        query = query.where(Case.category == filters.category)
    if filters.area == "none":
        query = query.where(Case.area_code.is_(None))
    elif filters.area:
        query = query.where(Case.area_code == filters.area)
    if filters.breached:
        query = query.where(_awaiting_contact(), Case.deadline_at < now)
    return query


async def queue_page(
    session: AsyncSession,
    filters: QueueFilters,
    principal: Principal,
    now: datetime,
    policy: Policy,
    *,
    page_size: int,
) -> QueuePage:
    """One page of the queue: cases awaiting first contact by deadline (so breaches come
    first), then contacted cases by how long since the reporter was last updated, then
    closed cases, newest closure first.

    Open and closed cases are paged as two segments, each ordered by what its own index can
    give (``ix_cases_queue``, ``ix_cases_status_closed``); only the ids of the page are
    chosen from the narrow index, then its rows are read (so a page costs the same with 10,000
    or 100,000 cases behind it).
    """
    awaiting = _awaiting_contact()
    counted = _scoped(
        select(
            _flag(Case.status != "closed"),
            _flag(Case.status == "closed"),
            _flag(and_(awaiting, Case.deadline_at < now)),
        ).select_from(Case),
        filters,
        principal,
        now,
    )
    active, closed, breached = (int(n) for n in (await session.execute(counted)).one())
    total = active + closed
    pages = max(1, -(-total // page_size))
    page = min(filters.page, pages)
    offset = (page - 1) * page_size
    ids: list[int] = []
    if offset < active:
        waiting = Case.first_contact_at.is_(None)
        chosen = _scoped(select(Case.id), filters, principal, now).where(Case.status != "closed")
        chosen = chosen.order_by(
            case((waiting, 0), else_=1),
            case(
                (waiting, Case.deadline_at),
                else_=func.coalesce(Case.last_update_at, Case.first_contact_at),
            ).asc().nulls_last(),
            Case.id,
        )
        ids += (await session.execute(chosen.limit(page_size).offset(offset))).scalars()
    if closed and len(ids) < page_size:
        chosen = _scoped(select(Case.id), filters, principal, now).where(Case.status == "closed")
        chosen = chosen.order_by(Case.closed_at.desc(), Case.id.desc())
        more = chosen.limit(page_size - len(ids)).offset(max(0, offset - active))
        ids += (await session.execute(more)).scalars()
    found = {}
    if ids:
        result = await session.execute(select(Case.id, *_QUEUE_COLUMNS).where(Case.id.in_(ids)))
        found = {row.id: row for row in result.all()}
    rows = [_queue_row(found[i], now, policy) for i in ids if i in found]
    return QueuePage(rows, total, breached, page, pages)


def _flag(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _queue_row(row: Any, now: datetime, policy: Policy) -> QueueRow:
    awaiting = row.status != "closed" and row.first_contact_at is None
    due_at: datetime | None = None
    due_what = ""
    if awaiting:
        due_at, due_what = row.deadline_at, "first contact"
    elif row.status != "closed" and not row.anonymous and row.priority != Priority.P3.value:
        since = row.last_update_at or row.first_contact_at
        if since is not None:
            due_at, due_what = since + update_every(row, policy), "update"
    return QueueRow(
        reference=row.reference,
        status=row.status,
        priority=row.priority,
        category=row.category,
        hate=bool(row.hate),
        officer_id=row.officer_id,
        area_code=row.area_code,
        location=row.location,
        received_at=row.received_at,
        deadline_at=row.deadline_at,
        first_contact_at=row.first_contact_at,
        acknowledged_at=row.acknowledged_at,
        closed_at=row.closed_at,
        case_review_flag=bool(row.case_review_flag),
        due_at=due_at,
        due_what=due_what,
        breached=awaiting and row.deadline_at is not None and row.deadline_at < now,
    )


def update_every(row: Any, policy: Policy) -> timedelta:
    """How often this reporter must be updated: as agreed, capped by the policy (R-09)."""
    try:
        category = Category(row.category)
        priority = Priority(row.priority)
    except ValueError:
        return policy.update_cadence.default.as_timedelta()
    facts = CaseFacts(
        reference=row.reference,
        priority=priority,
        category=category,
        received_at=row.received_at,
        deadline_at=row.deadline_at or row.received_at,
        hate=bool(row.hate),
        update_every_days=row.update_every_days,
    )
    return update_interval(facts, policy)


def countdown(due: datetime | None, now: datetime) -> str:
    """A deadline as words that read aloud well: "due in 3 h 20 min", "overdue by 2 days"."""
    if due is None:
        return "-"
    left = due - now
    late = left < timedelta(0)
    span = abs(left)
    days, rest = divmod(int(span.total_seconds()), 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if days >= 2:
        words = f"{days} days" + (f" {hours} h" if hours and days < 7 else "")
    elif days == 1:
        words = f"1 day {hours} h" if hours else "1 day"
    elif hours:
        words = f"{hours} h {minutes} min" if minutes else f"{hours} h"
    else:
        words = f"{minutes} min"
    return f"overdue by {words}" if late else f"due in {words}"


# --- one case ------------------------------------------------------------------------------------


async def case_for(session: AsyncSession, reference: str, principal: Principal) -> Case | None:
    """The case, if this person may see it: managers every case, officers their own."""
    if not principal.works_cases:
        return None
    found = (
        await session.execute(select(Case).where(Case.reference == reference.strip().upper()))
    ).scalar_one_or_none()
    if found is None:
        return None
    if not principal.sees_every_case and found.officer_id != principal.officer_id:
        return None
    return found


async def officers(session: AsyncSession) -> list[Officer]:
    """The whole team (small), for names and the assignment list."""
    return list((await session.execute(select(Officer).order_by(Officer.name))).scalars())


async def reporter_identity(session: AsyncSession, case_row: Case) -> ChannelIdentity | None:
    """The channel and address the report came from (replies go there)."""
    if case_row.reporter_identity_id is None:
        return None
    return await session.get(ChannelIdentity, case_row.reporter_identity_id)


async def audit_trail(session: AsyncSession, case_id: int) -> list[AuditEvent]:
    """A case's audit events, oldest first."""
    result = await session.execute(
        select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.id)
    )
    return list(result.scalars())


async def staff_messages(
    session: AsyncSession, case_id: int, caretaking_email: str | None
) -> set[str]:
    """What was sent about this case to staff (alerts, digests, caretaking jobs), to keep out
    of the reporter's transcript: ``casework.casefile`` lists every outbox row of the case, and
    officer alerts carry one-click action links signed for that officer."""
    to_staff: ColumnElement[bool] = OutboxMessage.officer_id.is_not(None)
    if caretaking_email:
        to_staff = or_(to_staff, and_(OutboxMessage.identity_id.is_(None),
                                      OutboxMessage.recipient == caretaking_email))
    result = await session.execute(
        select(OutboxMessage.body).where(OutboxMessage.case_id == case_id, to_staff)
    )
    return set(result.scalars())


def readable(text: str) -> str:
    """What a reporter wrote, from a message as it was stored raw: a Twilio form post, a
    Telegram update or web chat post (JSON), or an email (MIME). Anything else as it is."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            return text
        return _from_json(data) or text
    if "Body=" in stripped and "&" in stripped and "\n" not in stripped:
        body = parse_qs(stripped, keep_blank_values=True).get("Body")
        return body[0] if body else text
    head = stripped[:2000].lower()
    if (
        "\n" in stripped
        and ("content-type:" in head or "message-id:" in head)
        and ("from:" in head)
    ):
        return _from_email(stripped) or text
    return text


def _from_json(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("text"), str):  # web chat
        return str(data["text"]) or str(data.get("choice") or "")
    for key in ("message", "edited_message"):  # Telegram
        message = data.get(key)
        if isinstance(message, dict):
            return str(message.get("text") or message.get("caption") or "")
    callback = data.get("callback_query")
    if isinstance(callback, dict):
        return str(callback.get("data") or "")
    return None


def _from_email(raw: str) -> str | None:
    try:
        message = email.message_from_string(raw, policy=email.policy.default)
        subject = str(message.get("subject") or "")
        body_part = message.get_body(preferencelist=("plain",))
        body = body_part.get_content() if body_part is not None else ""
    except Exception:  # an unreadable email is shown raw, never an error page
        return None
    return "\n".join(part for part in (subject, str(body).strip()) if part)


# --- the graffiti job board ---------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """A graffiti-removal job, as caretakers see it: no reporter's details."""

    reference: str
    area_code: str | None
    location: str | None
    offensive: bool
    target: datetime | None
    sent_at: datetime
    removed_at: datetime | None
    case_status: str


async def graffiti_jobs(
    session: AsyncSession, principal: Principal, areas: Sequence[str], now: datetime
) -> list[Job]:
    """Open graffiti jobs (soonest target first) and those removed in the last 14 days.

    A caretaker with areas sees jobs in those areas and jobs with no area.
    """
    query = (
        select(
            Case.reference,
            Case.area_code,
            Case.location,
            Case.graffiti_removed_at,
            Case.status,
            ScheduledAction.payload,
            ScheduledAction.created_at,
        )
        .join(Case, Case.id == ScheduledAction.case_id)
        .where(
            ScheduledAction.kind == "graffiti_job",
            or_(
                and_(Case.graffiti_removed_at.is_(None), Case.status != "closed"),
                Case.graffiti_removed_at >= now - timedelta(days=14),
            ),
        )
        .order_by(ScheduledAction.created_at.desc())
        .limit(500)
    )
    if principal.role == "caretaker" and areas:
        query = query.where(or_(Case.area_code.in_(list(areas)), Case.area_code.is_(None)))
    jobs: list[Job] = []
    for row in (await session.execute(query)).all():
        payload = row.payload or {}
        target = None
        if isinstance(payload.get("due_at"), str):
            try:
                target = datetime.fromisoformat(payload["due_at"])
            except ValueError:
                target = None
        jobs.append(
            Job(
                reference=row.reference,
                area_code=row.area_code,
                location=row.location,
                offensive=bool(payload.get("offensive")),
                target=target,
                sent_at=row.created_at,
                removed_at=row.graffiti_removed_at,
                case_status=row.status,
            )
        )
    far = now + timedelta(days=3650)
    jobs.sort(key=lambda j: (j.removed_at is not None, j.target or far, j.reference))
    return jobs


# --- the audit trail -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditPage:
    """Audit events, newest first, with case references."""

    events: list[tuple[AuditEvent, str | None]] = field(default_factory=list)
    more: bool = False


async def audit_events(
    session: AsyncSession,
    *,
    reference: str | None = None,
    actor: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> AuditPage:
    """The audit trail for admins, newest first, optionally one case's or one person's."""
    query = select(AuditEvent, Case.reference).outerjoin(Case, Case.id == AuditEvent.case_id)
    if reference:
        query = query.where(Case.reference == reference.strip().upper())
    if actor:
        query = query.where(AuditEvent.actor == actor.strip())
    if before_id:
        query = query.where(AuditEvent.id < before_id)
    result = await session.execute(query.order_by(AuditEvent.id.desc()).limit(limit + 1))
    rows: list[tuple[AuditEvent, str | None]] = [(event, ref) for event, ref in result.all()]
    return AuditPage(rows[:limit], len(rows) > limit)
