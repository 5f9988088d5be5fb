"""The one small contract every channel implements (CONVENTIONS.md §1).

A channel adapter translates and never decides: it verifies the sender, turns the vendor's
payload into an :class:`~intake.messages.InboundMessage`, hands it to the intake handler it was
given, and renders and sends what the outbox dispatcher gives it. It imports nothing of ours
but the message types; the composition root (``intake/bootstrap.py``) wires it up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from intake.messages import Channel, Handled, InboundMessage, Reply

if TYPE_CHECKING:
    from fastapi import APIRouter


class InboundHandler(Protocol):
    """The intake service's entry point, as a channel sees it."""

    async def __call__(self, message: InboundMessage, *, inline: bool = False) -> Handled:
        """Store and process one message; with ``inline`` the caller delivers the replies."""
        ...


class DeliveryHandler(Protocol):
    """Where a channel reports what became of a message it sent (e.g. Twilio callbacks)."""

    async def __call__(
        self, channel: Channel, external_id: str, status: str, error_code: str | None = None
    ) -> None:
        """Move the message's delivery state forward (never back)."""
        ...


@dataclass(frozen=True)
class Outgoing:
    """One send: the replies of one step (or one alert) to one recipient on one channel."""

    key: str
    """Idempotency key: the same key is never delivered twice by an adapter that can tell."""
    channel: Channel
    recipient: str
    replies: tuple[Reply, ...]
    reference: str | None = None
    """The case reference, e.g. for an email subject."""
    context: dict[str, str] = field(default_factory=dict)
    """The inbound message's ``reply_context`` (threading headers, chat id, our number)."""
    subject: str | None = None
    """An explicit subject (officer alerts); otherwise the channel chooses."""


@dataclass(frozen=True)
class SendResult:
    """What happened when an adapter tried to send."""

    ok: bool
    external_id: str | None = None
    """The vendor's id for the sent message (for delivery callbacks)."""
    retryable: bool = False
    """A temporary failure (timeout, 5xx, rate limit): the dispatcher tries again later."""
    opted_out: bool = False
    """The recipient has opted out (Twilio error 21610): never try again."""
    error: str | None = None


class ChannelAdapter(Protocol):
    """What the service needs from a channel."""

    channels: tuple[Channel, ...]
    """The channels this adapter serves (Twilio serves SMS and WhatsApp)."""

    def router(self) -> APIRouter | None:
        """HTTP routes (webhooks, pages), or None for a channel without any (email)."""
        ...

    async def start(self) -> None:
        """Start listening (SMTP server, Telegram polling); called once on start-up."""
        ...

    async def stop(self) -> None:
        """Stop accepting new messages and release connections; called on shutdown."""
        ...

    async def send(self, outgoing: Outgoing) -> SendResult:
        """Render and send; never raise for a vendor error, return a result saying what."""
        ...

    async def health(self) -> str:
        """"ok", "sandbox" (no account: the stand-in server is used) or "down: why"."""
        ...
