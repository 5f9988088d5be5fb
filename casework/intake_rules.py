"""The casework rules the intake service applies when it saves a case: who gets it, which
area and block it is in, and which follow-ups it needs. The composition root builds one and
gives it to the intake service (``intake.service.CaseRules``), so intake never imports
casework (DESIGN.md, packages)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from casework.allocation import OfficerOnRota, allocate, area_for
from casework.plan import CaseFacts, PlannedAction, plan_follow_ups
from casework.reports import block_for
from storage.models import Case
from triage.calendar import WorkingCalendar
from triage.policy import Policy
from triage.taxonomy import Category, Priority


class CaseworkRules:
    """Allocation, place and follow-up planning for new cases.

    Args:
        officers: everyone on the team, as allocation sees them.
        on_call: the on-call officer's id (P1 out of hours goes there).
        areas: area code to (postcode prefixes and block names, block names).
        policy: the landlord's service standard.
        calendar: its working calendar.
    """

    def __init__(
        self,
        officers: Sequence[OfficerOnRota],
        on_call: str | None,
        areas: Mapping[str, tuple[Sequence[str], Sequence[str]]],
        policy: Policy,
        calendar: WorkingCalendar,
    ) -> None:
        self._officers = tuple(officers)
        self._on_call = on_call
        self._markers = {code: tuple(markers) for code, (markers, _) in areas.items()}
        self._blocks = {code: tuple(blocks) for code, (_, blocks) in areas.items()}
        self._policy, self._calendar = policy, calendar

    def allocate(
        self, open_cases: Mapping[str, int], *, area: str | None, p1_out_of_hours: bool
    ) -> tuple[str, str] | None:
        """The (id, name) of the officer a new case goes to, or None without case officers."""
        chosen = allocate(
            self._officers,
            open_cases,
            area=area,
            p1_out_of_hours=p1_out_of_hours,
            on_call=self._on_call,
        )
        return (chosen.id, chosen.name) if chosen else None

    def place(self, address_text: str, location: str | None) -> tuple[str | None, str | None]:
        """The area code found in the reporter's words and addresses, and the block named in
        ``location`` among that area's blocks (any area's when none was found)."""
        area = area_for(address_text, self._markers)
        blocks = [b for code, names in self._blocks.items() if area in (None, code) for b in names]
        return area, block_for(location, blocks)

    def follow_ups(
        self,
        case: Case,
        *,
        deadline_at: datetime,
        graffiti_due_at: datetime | None,
        offensive_graffiti: bool | None,
        update_every_days: int | None,
        now: datetime,
    ) -> list[PlannedAction]:
        """The scheduled actions a submitted case needs (first contact, updates, graffiti…)."""
        facts = CaseFacts(
            reference=case.reference,
            priority=Priority(case.priority),
            category=Category(case.category),
            received_at=case.received_at,
            deadline_at=deadline_at,
            hate=case.hate,
            anonymous=case.anonymous,
            graffiti_due_at=graffiti_due_at,
            offensive_graffiti=offensive_graffiti,
            update_every_days=update_every_days,
        )
        return plan_follow_ups(facts, self._policy, self._calendar, now)
