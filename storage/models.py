"""The tables. SQLAlchemy 2.0 declarative models; Alembic owns the schema.

Names follow the domain: a ``Person`` is reached on one or more ``ChannelIdentity``s; a
``Case`` has ``Incident``s, ``Evidence``, ``RiskAssessment``s, ``ConsentRecord``s and at most one
active ``Advocacy``; every message in is an ``InboundMessage`` (raw, unique per channel and
external id) and every message out an ``OutboxMessage``; every follow-up is a
``ScheduledAction`` row; every view of a sensitive case and every change is an ``AuditEvent``;
every satisfaction survey sent after closure, and its answer, is a ``SurveyResponse``; every
signed-in browser of the officer console is a ``ConsoleSession``.

Times are stored in UTC and always come back time-zone aware, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; returns them aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing to store a datetime without a time zone")
        moment = value.astimezone(UTC)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only


class Base(DeclarativeBase):
    """Declarative base with constraint names Alembic can rely on."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }


def _now() -> datetime:
    return datetime.now(UTC)


class Person(Base):
    """A reporter, tenant or advocate. One person may be reached on several channels."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(Text)
    """Home address, as given."""
    created_at: Mapped[datetime] = mapped_column(default=_now)

    identities: Mapped[list[ChannelIdentity]] = relationship(back_populates="person")


class ChannelIdentity(Base):
    """How we reach a person on one channel: a phone number, email address, chat id."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    """sms, whatsapp, email, telegram, web, terminal."""
    address: Mapped[str] = mapped_column(String(320))
    opted_out_at: Mapped[datetime | None]
    """Set by STOP (or Twilio error 21610): nothing more is sent here until START."""
    created_at: Mapped[datetime] = mapped_column(default=_now)

    person: Mapped[Person] = relationship(back_populates="identities")


class Officer(Base):
    """Staff, mirrored from the config's team section (and console accounts later)."""

    __tablename__ = "officers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    alert_by: Mapped[str] = mapped_column(String(20), default="email")
    areas: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    """An argon2 hash: the officer can sign in to the console (``intake users add``)."""
    console_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Made with ``intake users add`` and not in the config's team (an administrator, say)."""
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Wrong passwords in a row; reset by a good one."""
    locked_until: Mapped[datetime | None]
    """Sign-in refused until then, after too many wrong passwords."""
    last_login_at: Mapped[datetime | None]


class ReferenceCounter(Base):
    """The last case number issued per year, for references like ASB-2026-000123."""

    __tablename__ = "reference_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Case(Base):
    """One matter of ASB or hate crime, from first report to closure and survey."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status_deadline", "status", "deadline_at"),
        Index("ix_cases_officer_status", "officer_id", "status"),
        Index("ix_cases_received", "received_at"),
        Index(
            "ix_cases_queue", "status", "first_contact_at", "deadline_at", "last_update_at", "id"
        ),
        Index("ix_cases_status_closed", "status", "closed_at", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    """open, closed (and draft for a partial report saved with a risk signal)."""
    priority: Mapped[str] = mapped_column(String(2))
    category: Mapped[str] = mapped_column(String(40))
    categories: Mapped[list[Any]] = mapped_column(default=list)
    hate: Mapped[bool] = mapped_column(Boolean, default=False)
    hate_perceived_by_reporter: Mapped[bool | None] = mapped_column(Boolean)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    not_asb: Mapped[bool] = mapped_column(Boolean, default=False)
    risk_level: Mapped[str | None] = mapped_column(String(10))
    triage_reasons: Mapped[list[Any]] = mapped_column(default=list)

    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    """The person the ASB affects (the tenant); None for an anonymous report."""
    reporter_identity_id: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id"))
    """The channel and address the report came from and replies go to."""
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    preferred_contact: Mapped[str | None] = mapped_column(String(20))
    adjustments: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Reasonable adjustments and safe contact arrangements (R-18)."""
    update_every_days: Mapped[int | None] = mapped_column(Integer)

    area_code: Mapped[str | None] = mapped_column(String(64))
    block: Mapped[str | None] = mapped_column(String(100))
    """The block or estate named in the location, from the area's ``blocks`` (hot spots)."""
    location: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)

    officer_id: Mapped[str | None] = mapped_column(ForeignKey("officers.id"))
    received_at: Mapped[datetime] = mapped_column(default=_now)
    deadline_at: Mapped[datetime | None]
    first_contact_at: Mapped[datetime | None]
    case_review_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledged_at: Mapped[datetime | None]
    """When an officer acknowledged the alert (ACK): stops the alert's second route."""
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    last_update_at: Mapped[datetime | None]
    """When the officer last updated the reporter (R-09): update reminders count from here."""
    graffiti_removed_at: Mapped[datetime | None]
    """When the caretaking team reported the graffiti removed (R-11)."""
    closed_at: Mapped[datetime | None]
    closure_reason: Mapped[str | None] = mapped_column(String(40))
    action_plan: Mapped[str | None] = mapped_column(Text)
    """The actions agreed with the reporter, in the officer's words (R-09)."""
    action_plan_agreed_at: Mapped[datetime | None]
    action_plan_agreed_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=_now)
    updated_at: Mapped[datetime] = mapped_column(default=_now, onupdate=_now)

    incidents: Mapped[list[Incident]] = relationship(
        back_populates="case", order_by="Incident.reported_at"
    )


class Advocacy(Base):
    """An advocate acting for the tenant on a case (R-07). One active advocacy per case."""

    __tablename__ = "advocacies"
    __table_args__ = (
        Index(
            "uq_advocacies_one_active_per_case",
            "case_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    advocate_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    organisation: Mapped[str | None] = mapped_column(String(200))
    relationship_to_tenant: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(default=_now)
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(40))
    """Who ended it: only the tenant may change their advocate."""


class ConsentRecord(Base):
    """A consent given or refused, when, and through which message (R-07, R-08)."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    kind: Mapped[str] = mapped_column(String(40))
    """tenant_consents_to_advocate, share_with_police, share_with_council, ..."""
    given: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime] = mapped_column(default=_now)
    inbound_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    note: Mapped[str | None] = mapped_column(Text)


class Incident(Base):
    """One thing that happened, as reported: the first report and every diary entry (R-10)."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_case_reported", "case_id", "reported_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    reported_at: Mapped[datetime] = mapped_column(default=_now)
    occurred: Mapped[str | None] = mapped_column(String(200))
    """When it happened, in the reporter's words ("last night about 11")."""
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(40))
    inbound_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))

    case: Mapped[Case] = relationship(back_populates="incidents")


class Evidence(Base):
    """A photo, recording, video or document kept for a case."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    inbound_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    kind: Mapped[str] = mapped_column(String(20))
    content_type: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_at: Mapped[str] = mapped_column(String(500))
    """Path under the data directory."""
    created_at: Mapped[datetime] = mapped_column(default=_now)


class RiskAssessment(Base):
    """The answers to the risk questionnaire and what they scored (R-03)."""

    __tablename__ = "risk_assessments"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    score: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(10))
    support_referral: Mapped[bool] = mapped_column(Boolean, default=False)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    assessed_at: Mapped[datetime] = mapped_column(default=_now)


class Conversation(Base):
    """Where one identity has got to in the intake conversation."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    identity_id: Mapped[int] = mapped_column(
        ForeignKey("channel_identities.id", ondelete="CASCADE"), unique=True
    )
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    version: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped on every write, so two workers never both step the same conversation."""
    updated_at: Mapped[datetime] = mapped_column(default=_now)


class InboundMessage(Base):
    """A message as it arrived, stored before it is acknowledged (so nothing is ever lost)."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_inbound_messages_status", "status"),
        Index("ix_inbound_messages_sender", "channel", "sender", "received_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(255))
    """MessageSid, update_id, Message-ID: the vendor's own id, for deduplication."""
    sender: Mapped[str | None] = mapped_column(String(320))
    received_at: Mapped[datetime] = mapped_column(default=_now)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    """The raw payload, exactly as received."""
    status: Mapped[str] = mapped_column(String(20), default="received")
    """received, processed, ignored, flagged (could not be understood; kept for an officer)."""
    response: Mapped[str | None] = mapped_column(Text)
    """What we answered, so a redelivery gets the same answer."""
    error: Mapped[str | None] = mapped_column(Text)


class OutboxMessage(Base):
    """A message waiting to go, or gone. Delivered at least once; the key makes it once."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_status_next", "status", "next_attempt_at"),
        Index("ix_outbox_messages_identity_created", "identity_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(320))
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id"))
    officer_id: Mapped[str | None] = mapped_column(ForeignKey("officers.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Channel-specific parts: buttons, subject, threading headers."""
    status: Mapped[str] = mapped_column(String(20), default="pending")
    """pending, sending, sent, delivered, failed."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=_now)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    sent_at: Mapped[datetime | None]


class ScheduledAction(Base):
    """A follow-up that must happen at a time: scheduled work is data (DESIGN.md)."""

    __tablename__ = "scheduled_actions"
    __table_args__ = (Index("ix_scheduled_actions_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    """pending, running, done, cancelled, failed."""
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    """Makes scheduling idempotent: the same follow-up is never scheduled twice."""
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    completed_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Who saw or changed what, when. Every view of a hate or domestic-abuse case is one."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_case_at", "case_id", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=_now)
    actor: Mapped[str] = mapped_column(String(100))
    """officer:<id>, reporter:<identity id>, system."""
    action: Mapped[str] = mapped_column(String(60))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SurveyResponse(Base):
    """A satisfaction survey sent after closure, and the answer if one came (R-14).

    The question is the tenant satisfaction measure TP12's, scored 1 (very satisfied) to 5
    (very dissatisfied). One survey per case and question.
    """

    __tablename__ = "survey_responses"
    __table_args__ = (
        UniqueConstraint("case_id", "question"),
        Index("ix_survey_responses_identity_asked", "identity_id", "asked_at"),
        Index("ix_survey_responses_answered", "answered_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    identity_id: Mapped[int | None] = mapped_column(
        ForeignKey("channel_identities.id", ondelete="SET NULL")
    )
    channel: Mapped[str] = mapped_column(String(20))
    question: Mapped[str] = mapped_column(String(20), default="tp12")
    asked_at: Mapped[datetime] = mapped_column(default=_now)
    answered_at: Mapped[datetime | None]
    score: Mapped[int | None] = mapped_column(Integer)
    """1 very satisfied, 2 fairly satisfied, 3 neither, 4 fairly dissatisfied, 5 very
    dissatisfied."""
    answer_text: Mapped[str | None] = mapped_column(Text)
    """The reply as written, kept for the officer (comments often come with the number)."""


class ConsoleSession(Base):
    """A signed-in browser of the officer console. The cookie holds a random token; only its
    SHA-256 is stored, so a copy of the table signs nobody in. Signing out ends it at once."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 (hex) of the cookie's token."""
    officer_id: Mapped[str] = mapped_column(
        ForeignKey("officers.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=_now)
    last_seen_at: Mapped[datetime] = mapped_column(default=_now)
    expires_at: Mapped[datetime]
    """The latest it can last, however busy (an idle session ends sooner)."""
    ended_at: Mapped[datetime | None]
