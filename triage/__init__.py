"""Triage: what a report is about, how urgent it is, and when the reporter hears back.

Pure functions only: no clock reads, no network, no storage. The time a report was received,
the policy and the calendar are passed in, so the same inputs always give the same result.

* :func:`classify` reads the words (category, hate, emergency, not-ASB, severity).
* :func:`assess_risk` scores the risk-assessment questionnaire.
* :func:`decide_priority` applies the landlord's policy.
* :func:`triage_report` does all three and asks the calendar for the first-contact deadline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from triage.classifier import SEVERITY_KINDS, Classification, classify
from triage.hate import HATE_STRANDS
from triage.policy import Duration, Policy
from triage.priority import PriorityDecision, decide_priority
from triage.risk import RiskAssessment, RiskQuestion, assess_risk, risk_questions
from triage.taxonomy import Category, Priority

__all__ = [
    "HATE_STRANDS",
    "SEVERITY_KINDS",
    "Classification",
    "DeadlineCalendar",
    "PriorityDecision",
    "RiskAssessment",
    "RiskQuestion",
    "TriageResult",
    "assess_risk",
    "classify",
    "decide_priority",
    "risk_questions",
    "triage_report",
]


class DeadlineCalendar(Protocol):
    """What triage needs from a calendar (:class:`triage.calendar.WorkingCalendar`)."""

    def deadline(self, start: datetime, duration: Duration) -> datetime:
        """The moment ``duration`` after ``start``, counted as the standard counts it."""
        ...


@dataclass(frozen=True, slots=True)
class TriageResult:
    """Everything triage says about one report.

    Attributes:
        classification: What the words say.
        risk: The risk assessment, if the reporter answered any questions.
        decision: The priority and why.
        priority: Shortcut for ``decision.priority``.
        category: The category the priority was set for.
        first_contact_by: The deadline for an officer's first contact (R-06).
        reasons: Classification, risk and priority reasons, in that order.
    """

    classification: Classification
    risk: RiskAssessment | None
    decision: PriorityDecision
    priority: Priority
    category: Category
    first_contact_by: datetime
    reasons: tuple[str, ...]


def triage_report(
    text: str,
    policy: Policy,
    calendar: DeadlineCalendar,
    received_at: datetime,
    channel: str | None = None,
    *,
    risk_answers: Mapping[str, bool | None] | None = None,
    reporter_says_hate: bool | None = None,
    emergency_confirmed: bool | None = None,
    incidents_in_window: int = 0,
) -> TriageResult:
    """Classify a report, set its priority and work out when the reporter must hear back.

    Args:
        text: The report as written.
        policy: The landlord's service standard.
        calendar: The landlord's working calendar (``WorkingCalendar.from_policy(policy)``).
        received_at: When the report arrived (timezone-aware).
        channel: Where it came from; never changes the outcome (R-01).
        risk_answers: Answers to the risk questionnaire so far (question id to yes/no/None).
        reporter_says_hate: The reporter's own view of whether it is hate (R-04).
        emergency_confirmed: The reporter's answer to "are you in danger right now?".
        incidents_in_window: Incidents on the case within the case-review window (R-12).

    Returns:
        The classification, risk, priority decision and first-contact deadline.
    """
    classification = classify(text, channel)
    risk = assess_risk(risk_answers, policy.risk) if risk_answers is not None else None
    decision = decide_priority(
        classification,
        policy,
        risk=risk,
        reporter_says_hate=reporter_says_hate,
        emergency_confirmed=emergency_confirmed,
        incidents_in_window=incidents_in_window,
    )
    deadline = calendar.deadline(received_at, policy.priorities[decision.priority].first_contact)
    return TriageResult(
        classification=classification,
        risk=risk,
        decision=decision,
        priority=decision.priority,
        category=decision.category,
        first_contact_by=deadline,
        reasons=classification.reasons + (risk.reasons if risk else ()) + decision.reasons,
    )
