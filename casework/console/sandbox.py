"""What the sandbox stand-ins "sent", as the console lists it (DESIGN.md: in sandbox mode
everything sent is visible in the console).

Without Twilio or Telegram accounts those channels send to stand-in APIs inside the process
(``channels/*_sandbox.py``). The composition root hands the console a function that reads what
they accepted, as :class:`SandboxMessage` values: the console imports nothing of the channels.
Only managers and administrators can open the list (it holds message text and addresses), and
only behind a console session.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SandboxMessage:
    """One message a stand-in API accepted.

    Args:
        channel: sms, whatsapp or telegram.
        id: the stand-in's id for it (a Twilio SID, a Telegram message id).
        to: the phone number or chat it was addressed to.
        text: what it said.
        at: when the stand-in accepted it.
        buttons: the labels of any buttons sent with it (Telegram).
    """

    channel: str
    id: str
    to: str
    text: str
    at: datetime | None
    buttons: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, for the console's download."""
        return {
            "channel": self.channel,
            "id": self.id,
            "to": self.to,
            "text": self.text,
            "at": self.at.isoformat() if self.at else None,
            "buttons": list(self.buttons),
        }


SandboxSent = Callable[[], Sequence[SandboxMessage]]
"""Reads everything the sandboxes have sent so far, oldest first."""
