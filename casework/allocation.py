"""Who gets a new case: an officer for its area with the lightest load; P1 out of hours goes to
the on-call officer at once (R-06, issue 6)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class OfficerOnRota:
    """What allocation needs to know about one officer."""

    id: str
    name: str
    role: str
    areas: tuple[str, ...]
    max_open_cases: int = 40


def area_for(location: str | None, areas: Mapping[str, Sequence[str]]) -> str | None:
    """The area whose postcode district or block name appears in ``location``.

    Args:
        location: the reporter's words for where it happened (or their address).
        areas: area code to its postcode prefixes and block names.
    """
    if not location:
        return None
    text = location.upper()
    best: tuple[int, str] | None = None
    for code, markers in areas.items():
        for marker in markers:
            needle = marker.upper().strip()
            if needle and needle in text and (best is None or len(needle) > best[0]):
                best = (len(needle), code)
    return best[1] if best else None


def allocate(
    officers: Sequence[OfficerOnRota],
    open_cases: Mapping[str, int],
    *,
    area: str | None,
    p1_out_of_hours: bool,
    on_call: str | None,
) -> OfficerOnRota | None:
    """Choose the officer for a new case.

    Args:
        officers: everyone on the team.
        open_cases: open cases per officer id.
        area: the case's area code, if known.
        p1_out_of_hours: a P1 report while the office is closed, for the on-call officer.
        on_call: the on-call officer's id.

    Returns:
        The officer, or None if the team has no case officers.
    """
    by_id = {o.id: o for o in officers}
    if p1_out_of_hours and on_call in by_id:
        return by_id[on_call]
    case_officers = [o for o in officers if o.role == "officer"]
    local = [o for o in case_officers if area is not None and area in o.areas]
    pool = local or case_officers
    if not pool:
        return None
    return min(pool, key=lambda o: (open_cases.get(o.id, 0) / o.max_open_cases, o.id))
