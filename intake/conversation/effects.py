"""What a conversation step asks the intake service to do, as values (no I/O here).

The service carries every effect out in the same transaction as the new state and the replies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from intake.messages import Attachment

REFERENCE_TOKEN = "\x00REFERENCE\x00"  # noqa: S105 - a placeholder, not a secret
"""Stands in reply text for a case reference that the service allocates when it saves."""


@dataclass(frozen=True)
class CaseDraft:
    """Everything the conversation has learnt about a report, ready to be stored."""

    description: str
    received_at: datetime
    priority: str
    category: str
    categories: tuple[str, ...]
    hate: bool
    hate_perceived_by_reporter: bool | None
    emergency: bool
    not_asb: bool
    deadline_at: datetime
    reasons: tuple[str, ...]
    risk_level: str | None = None
    risk_score: int | None = None
    risk_answers: dict[str, bool | None] = field(default_factory=dict)
    risk_reasons: tuple[str, ...] = ()
    support_referral: bool = False
    answers: dict[str, Any] = field(default_factory=dict)
    """Every answer given, by question id (when, where, who, adjustments, consent ...)."""
    domestic_abuse: bool = False
    offensive_graffiti: bool | None = None
    graffiti_due_at: datetime | None = None
    anonymous: bool = False
    third_party: bool = False
    update_every_days: int | None = None
    officer_id: str | None = None


@dataclass(frozen=True)
class SaveCase:
    """Create the conversation's case, or update it if it already has one."""

    draft: CaseDraft
    status: str
    """open (submitted or urgent), incomplete (a partial report saved on idle or exit)."""
    alert: str | None = None
    """Why an officer must be alerted now (emergency, hate, partial report with risk...)."""
    submitted: bool = False
    """True when the reporter has finished: follow-ups are planned from this moment."""


@dataclass(frozen=True)
class AddIncident:
    """Add a diary entry to an existing case (R-10)."""

    reference: str
    description: str


@dataclass(frozen=True)
class KeepEvidence:
    """Keep attachments with a case (or with the conversation until it has one)."""

    attachments: tuple[Attachment, ...]
    reference: str | None = None


@dataclass(frozen=True)
class EndAdvocacy:
    """The tenant ends their advocate's role on a case (R-07: only the tenant may)."""

    reference: str


@dataclass(frozen=True)
class NominateAdvocate:
    """The tenant names a new advocate, in their own words (an officer checks the details)."""

    reference: str
    details: str


@dataclass(frozen=True)
class OptOut:
    """STOP: send nothing more to this identity; keep the report."""


@dataclass(frozen=True)
class OptIn:
    """START: messages may be sent again."""


@dataclass(frozen=True)
class RequestCallback:
    """HUMAN: an officer should contact the reporter."""

    number: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class FlagForOfficer:
    """Something an officer must look at (e.g. a report on someone's behalf without consent)."""

    reason: str
    reference: str | None = None


Effect = (
    SaveCase
    | AddIncident
    | KeepEvidence
    | OptOut
    | OptIn
    | RequestCallback
    | FlagForOfficer
    | EndAdvocacy
    | NominateAdvocate
)
