"""The message types every channel speaks: frozen values, no behaviour, no I/O.

A channel adapter turns a vendor payload into an ``InboundMessage``; the conversation engine
answers with ``Reply`` values; a renderer turns each reply into the channel's own form
(numbered options on SMS, buttons on Telegram and web chat, one form-like email).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    """Where a message came from or goes to."""

    SMS = "sms"
    WHATSAPP = "whatsapp"
    EMAIL = "email"
    TELEGRAM = "telegram"
    WEB = "web"
    TERMINAL = "terminal"


@dataclass(frozen=True)
class Attachment:
    """A photo, recording, video or document that came with a message."""

    content_type: str
    size: int
    filename: str | None = None
    data: bytes | None = None
    """The bytes, when the adapter already has them (email, web chat)."""
    url: str | None = None
    """Where to fetch it (Twilio media, Telegram file), when it has not been fetched yet."""

    @property
    def kind(self) -> str:
        """photo, audio, video or document."""
        major = self.content_type.split("/", 1)[0].lower()
        return {"image": "photo", "audio": "audio", "video": "video"}.get(major, "document")


@dataclass(frozen=True)
class InboundMessage:
    """One message from a reporter (or an officer), as every channel hands it on."""

    channel: Channel
    sender: str
    """The address on that channel: phone number, email address, chat id, web session id."""
    external_id: str
    """The vendor's id for deduplication: MessageSid, update_id, Message-ID."""
    text: str
    received_at: datetime
    attachments: tuple[Attachment, ...] = ()
    choice: str | None = None
    """The value of a pressed button, if the channel has buttons."""
    subject: str | None = None
    in_reply_to_reference: str | None = None
    """A case reference the channel found in threading (email subject, In-Reply-To)."""
    raw: bytes = b""
    """The payload exactly as received."""
    auto_reply_allowed: bool = True
    """False for mail that must never get an automatic answer (RFC 3834: auto-submitted,
    bulk or list mail, mailer-daemon, an empty return path). The message is still processed."""
    reply_context: dict[str, str] = field(default_factory=dict)
    """Channel data to echo back when answering: the email Message-ID and subject for
    threading, the Telegram chat id, which of our numbers was texted. Opaque to the engine."""


@dataclass(frozen=True)
class Option:
    """One choice offered with a question."""

    value: str
    label: str


@dataclass(frozen=True)
class Reply:
    """Something the bot says: catalog text already filled in, plus any choices."""

    text: str
    options: tuple[Option, ...] = ()
    multiple: bool = False
    """True when several options may be chosen at once ("reply 1 3 5")."""
    question_id: str | None = None
    """The question this reply asks, if any (email lists several together)."""
    urgent: bool = False
    """Safety text (999) that must go first and never be trimmed."""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Handled:
    """What became of one inbound message, as the channel that delivered it needs to know."""

    replies: tuple[Reply, ...]
    first_delivery: bool
    """False for a redelivery: the replies are the ones given the first time."""
    case_reference: str | None = None
    inbound_id: int | None = None
    deliveries_queued: bool = True
    """Messages wait in the outbox (the dispatcher should look now); False when the replies
    went inline and nothing else was queued."""
    next_due: datetime | None = None
    """The soonest follow-up for casework this message scheduled (casework looks again if that
    is sooner than what it waits for). The intake's own idle checks are left out: it runs them
    on its own timer, and counting them woke casework's claimer for every message."""
