"""Where a conversation has got to, as plain data that is stored as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any


@dataclass
class ConversationState:
    """One reporter's conversation on one channel identity.

    ``status`` moves new → describing → asking → confirming → done; ``stopped`` after STOP,
    ``exited`` after the quick-exit word. ``awaiting`` names a special prompt outside the
    question list (add to a case or start a new one, which answer to change, a callback number).
    """

    status: str = "new"
    batch: bool = False
    """Email: ask every remaining question in one message."""
    description: str = ""
    answers: dict[str, Any] = field(default_factory=dict)
    prefilled: list[str] = field(default_factory=list)
    """Questions answered by the first message, never asked."""
    history: list[str] = field(default_factory=list)
    """Questions in the order they were answered, for BACK."""
    pending: list[str] = field(default_factory=list)
    """The questions just asked."""
    unclear: int = 0
    rounds: int = 0
    awaiting: str | None = None
    held_text: str = ""
    """A message kept while we ask whether it belongs to an existing case."""
    correcting: bool = False
    case_ref: str | None = None
    case_saved_as: str | None = None
    alerted: bool = False
    received_at: str | None = None
    last_activity: str | None = None
    language: str = "en"
    last_case_ref: str | None = None
    """The reporter's most recent finished report, for replies to the acknowledgement."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ConversationState:
        """Rebuild from stored data, ignoring keys from older versions."""
        if not data:
            return cls()
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def received(self) -> datetime | None:
        """When the report began."""
        return datetime.fromisoformat(self.received_at) if self.received_at else None

    def last(self) -> datetime | None:
        """When the reporter last wrote."""
        return datetime.fromisoformat(self.last_activity) if self.last_activity else None
