"""The follow-ups a new case needs, worked out from the policy (scheduled work is data).

Pure: given the case's facts, the policy, the calendar and the time, it lists the scheduled
actions to store. Each has a dedupe key, so planning the same case twice schedules nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from triage.calendar import WorkingCalendar
from triage.policy import Policy
from triage.taxonomy import Category, Priority


@dataclass(frozen=True)
class CaseFacts:
    """What planning needs to know about a case."""

    reference: str
    priority: Priority
    category: Category
    received_at: datetime
    deadline_at: datetime
    hate: bool = False
    anonymous: bool = False
    graffiti_due_at: datetime | None = None
    offensive_graffiti: bool | None = None
    update_every_days: int | None = None


@dataclass(frozen=True)
class PlannedAction:
    """One row for the scheduled_actions table."""

    kind: str
    due_at: datetime
    dedupe_key: str
    payload: dict[str, Any] = field(default_factory=dict)


def update_interval(facts: CaseFacts, policy: Policy) -> timedelta:
    """How often the reporter is updated: as agreed, but never less often than the policy's
    upper bound for the category (hate: at least every 14 days, R-09)."""
    cadence = policy.update_cadence
    days = facts.update_every_days or cadence.default.amount
    category = Category.HATE_INCIDENT if facts.hate else facts.category
    cap = cadence.at_least_every.get(category)
    if cap is not None:
        days = min(days, cap.amount)
    return timedelta(days=days)


def plan_follow_ups(
    facts: CaseFacts, policy: Policy, calendar: WorkingCalendar, now: datetime
) -> list[PlannedAction]:
    """The follow-ups to schedule when a case is submitted."""
    ref = facts.reference
    target = policy.priorities[facts.priority]
    planned = [
        PlannedAction(
            "first_contact_deadline",
            facts.deadline_at,
            f"{ref}:first_contact_deadline",
            {"deadline": facts.deadline_at.isoformat()},
        ),
    ]
    reminder = calendar.before(facts.deadline_at, target.remind_before)
    if reminder > now:
        planned.append(
            PlannedAction("first_contact_reminder", reminder, f"{ref}:first_contact_reminder")
        )
    if facts.graffiti_due_at is not None:
        planned.append(
            PlannedAction(
                "graffiti_job",
                now,
                f"{ref}:graffiti_job",
                {
                    "due_at": facts.graffiti_due_at.isoformat(),
                    "offensive": bool(facts.offensive_graffiti),
                },
            )
        )
    if facts.priority is not Priority.P3 and not facts.anonymous:
        planned.append(
            PlannedAction(
                "update_reminder", now + update_interval(facts, policy), f"{ref}:update_reminder:1"
            )
        )
    closure_due = calendar.deadline(facts.received_at, policy.closure.no_new_reports_after)
    planned.append(PlannedAction("closure_check", closure_due, f"{ref}:closure_check:1"))
    return planned
