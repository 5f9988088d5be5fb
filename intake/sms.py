"""What an SMS costs: GSM-7 or UCS-2, characters and segments; and keeping it GSM-7.

One GSM-7 segment holds 160 septets (153 each once a message is split, the rest carries the
joining header). A single character outside GSM-7 (a curly quote pasted from a word processor,
an emoji) silently switches the whole message to UCS-2: 70 characters, 67 per part. So a
160-character reply with one ``’`` costs three segments instead of one. ``to_gsm7`` replaces
the typographic characters that cause this; it leaves letters such as ``ë`` or ``á`` alone,
because a reporter's name spelt wrongly costs more than an extra segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""The GSM 03.38 default alphabet, less the escape code: one septet each."""

GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
"""The extension table: escape plus the character, two septets each."""

_LIMITS: dict[Encoding, tuple[int, int]] = {
    "GSM-7": (160, 153),
    "UCS-2": (70, 67),
}
"""Characters in a single-segment message, and in each part of a split one."""

_TYPOGRAPHIC = str.maketrans({
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "´": "'", "`": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"',
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-",
    "…": "...",
    "\u00a0": " ", "\u2007": " ", "\u2009": " ", "\u202f": " ", "\t": " ",
    "•": "-", "·": "-", "◦": "-", "▪": "-",
    "\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None, "\ufeff": None,
})


@dataclass(frozen=True, slots=True)
class SmsSize:
    """How an SMS body will be sent and billed.

    Attributes:
        encoding: ``"GSM-7"`` when every character is in the GSM 03.38 alphabet or its
            extension table, otherwise ``"UCS-2"``.
        characters: Length as the network counts it: septets for GSM-7 (extension-table
            characters count 2), UTF-16 code units for UCS-2 (most emoji count 2).
        segments: Messages the network sends and the provider bills; 0 for an empty body.
    """

    encoding: Encoding
    characters: int
    segments: int


def segments(text: str) -> SmsSize:
    """Measure an SMS body the way the network will encode and split it.

    A character is never split across two parts (an extension-table character's escape
    stays with it, an emoji's two UTF-16 units stay together), so a long message can need
    one more part than ``characters / 153`` suggests.

    Args:
        text: The body exactly as it will be sent.

    Returns:
        The encoding, the counted length and the number of segments.
    """
    encoding: Encoding = "GSM-7" if all(_is_gsm7(ch) for ch in text) else "UCS-2"
    costs = [_cost(ch, encoding) for ch in text]
    single, per_part = _LIMITS[encoding]
    total = sum(costs)
    if total <= single:
        return SmsSize(encoding, total, 1 if total else 0)
    parts, used = 1, 0
    for cost in costs:
        if used + cost > per_part:
            parts, used = parts + 1, 0
        used += cost
    return SmsSize(encoding, total, parts)


def to_gsm7(text: str) -> str:
    """Replace typographic characters that would silently switch a message to UCS-2.

    Curly quotes, dashes, the ellipsis, non-breaking and thin spaces, bullets and
    zero-width characters become their plain GSM-7 equivalents. Everything else, including
    emoji and accented letters outside GSM-7, is kept.

    Args:
        text: Text about to be sent by SMS.

    Returns:
        The same text with those characters replaced.
    """
    return text.translate(_TYPOGRAPHIC)


def _is_gsm7(character: str) -> bool:
    return character in GSM7_BASIC or character in GSM7_EXTENSION


def _cost(character: str, encoding: Encoding) -> int:
    if encoding == "GSM-7":
        return 2 if character in GSM7_EXTENSION else 1
    return 2 if ord(character) > 0xFFFF else 1
