"""Read-only views of cases for the CLI (``intake cases list|show``) and, later, the console."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select

from storage.models import (
    Advocacy,
    Case,
    ChannelIdentity,
    Evidence,
    InboundMessage,
    Incident,
    OutboxMessage,
    Person,
    RiskAssessment,
    ScheduledAction,
)
from storage.uow import Storage


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _summary(case: Case, channel: str | None) -> dict[str, Any]:
    return {
        "reference": case.reference,
        "status": case.status,
        "priority": case.priority,
        "category": case.category,
        "hate": case.hate,
        "emergency": case.emergency,
        "not_asb": case.not_asb,
        "risk_level": case.risk_level,
        "deadline": _iso(case.deadline_at),
        "officer": case.officer_id,
        "reporter_channel": channel,
        "anonymous": case.anonymous,
        "received_at": _iso(case.received_at),
    }


async def case_summaries(
    storage: Storage, *, status: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Cases with their headline facts, soonest deadline first."""
    async with storage.unit_of_work() as uow:
        cases = await uow.cases.list(status=status, limit=limit)
        channels = dict(
            (
                await uow.session.execute(
                    select(ChannelIdentity.id, ChannelIdentity.channel).where(
                        ChannelIdentity.id.in_(
                            [c.reporter_identity_id for c in cases if c.reporter_identity_id]
                        )
                    )
                )
            ).all()
        )
        return [
            _summary(c, channels.get(c.reporter_identity_id) if c.reporter_identity_id else None)
            for c in cases
        ]


async def case_detail(storage: Storage, reference: str) -> dict[str, Any] | None:
    """One case with its triage, risk, incidents, evidence, advocate, actions and transcript."""
    async with storage.unit_of_work() as uow:
        case = await uow.cases.by_reference(reference)
        if case is None:
            return None
        identity = (
            await uow.session.get(ChannelIdentity, case.reporter_identity_id)
            if case.reporter_identity_id
            else None
        )
        detail = _summary(case, identity.channel if identity else None)
        reporter = await uow.session.get(Person, case.reporter_id) if case.reporter_id else None
        advocacy = await uow.session.scalar(
            select(Advocacy).where(Advocacy.case_id == case.id, Advocacy.ended_at.is_(None))
        )
        advocate = await uow.session.get(Person, advocacy.advocate_id) if advocacy else None
        risk = await uow.session.scalar(
            select(RiskAssessment)
            .where(RiskAssessment.case_id == case.id)
            .order_by(RiskAssessment.id.desc())
            .limit(1)
        )
        incidents = (
            await uow.session.execute(
                select(Incident)
                .where(Incident.case_id == case.id)
                .order_by(Incident.reported_at, Incident.id)
            )
        ).scalars()
        evidence = (
            await uow.session.execute(
                select(Evidence).where(Evidence.case_id == case.id).order_by(Evidence.id)
            )
        ).scalars()
        actions = (
            await uow.session.execute(
                select(ScheduledAction)
                .where(ScheduledAction.case_id == case.id)
                .order_by(ScheduledAction.due_at)
            )
        ).scalars()
        detail.update(
            categories=case.categories,
            hate_perceived_by_reporter=case.hate_perceived_by_reporter,
            triage_reasons=case.triage_reasons,
            location=case.location,
            area=case.area_code,
            reporter=None
            if case.anonymous
            else {
                "name": reporter.name if reporter else None,
                "address": reporter.address if reporter else None,
            },
            advocate=None
            if advocacy is None
            else {
                "name": advocate.name if advocate else None,
                "relationship": advocacy.relationship_to_tenant,
                "since": _iso(advocacy.started_at),
            },
            preferred_contact=case.preferred_contact,
            adjustments=case.adjustments,
            update_every_days=case.update_every_days,
            risk=None
            if risk is None
            else {
                "level": risk.level,
                "score": risk.score,
                "support_referral": risk.support_referral,
                "reasons": risk.reasons,
            },
            incidents=[
                {"at": _iso(i.reported_at), "description": i.description} for i in incidents
            ],
            evidence=[
                {
                    "kind": e.kind,
                    "content_type": e.content_type,
                    "size": e.size,
                    "filename": e.filename,
                }
                for e in evidence
            ],
            scheduled_actions=[
                {"kind": a.kind, "due_at": _iso(a.due_at), "status": a.status} for a in actions
            ],
            transcript=await _transcript(uow.session, case, identity),
        )
        return detail


async def _transcript(
    session: Any, case: Case, identity: ChannelIdentity | None
) -> list[dict[str, Any]]:
    """Messages both ways with the reporter's identity, from the report onwards."""
    if identity is None:
        return []
    since = case.received_at - timedelta(hours=12)
    inbound = (
        (
            await session.execute(
                select(InboundMessage)
                .where(
                    InboundMessage.channel == identity.channel,
                    InboundMessage.sender == identity.address,
                    InboundMessage.received_at >= since,
                )
                .order_by(InboundMessage.id)
            )
        )
        .scalars()
        .all()
    )
    outbound = (
        (
            await session.execute(
                select(OutboxMessage)
                .where(
                    OutboxMessage.officer_id.is_(None),  # alerts to staff are not the transcript
                    or_(
                        OutboxMessage.case_id == case.id,
                        and_(
                            OutboxMessage.identity_id == identity.id,
                            OutboxMessage.created_at >= since,
                        ),
                    ),
                )
                .order_by(OutboxMessage.id)
            )
        )
        .scalars()
        .all()
    )
    lines = [
        {
            "at": _iso(m.received_at),
            "from": "reporter",
            "id": m.id,
            "text": m.payload.decode("utf-8", "replace"),
        }
        for m in inbound
    ]
    lines += [
        {"at": _iso(m.created_at), "from": "bot", "id": m.id, "text": m.body} for m in outbound
    ]
    lines.sort(key=lambda line: (line["at"] or "", line["from"] != "reporter", line["id"]))
    for line in lines:
        line.pop("id")
    return lines
