"""The terminal channel (``intake chat``): one line in is one message; replies as plain text.

Like every channel it only translates: a line of text becomes an ``InboundMessage``; replies
become text with numbered options, as on SMS.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from intake.messages import Channel, InboundMessage, Reply

TURN_END = "---"
"""Printed after the replies to each line when stdin is not a terminal."""


def parse(line: str, sender: str, received_at: datetime) -> InboundMessage:
    """A typed line as an inbound message from ``sender``."""
    return InboundMessage(
        channel=Channel.TERMINAL,
        sender=sender,
        external_id=uuid.uuid4().hex,
        text=line.rstrip("\n"),
        received_at=received_at,
        raw=line.encode("utf-8"),
    )


def render(replies: Sequence[Reply]) -> str:
    """Replies as text: safety text first, options numbered one per line."""
    ordered = [r for r in replies if r.urgent] + [r for r in replies if not r.urgent]
    blocks = []
    for reply in ordered:
        lines = [reply.text]
        lines += [f"  {n}. {option.label}" for n, option in enumerate(reply.options, start=1)]
        if reply.multiple:
            lines.append("  (reply with all the numbers that apply, e.g. 1 3)")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
