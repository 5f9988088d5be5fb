"""Turning the engine's replies into what each kind of channel sends.

SMS gets numbered options to reply with ("Reply 1 Yes, 2 No"), kept in GSM-7 so one stray
curly quote does not treble the cost; urgent safety text goes out first, as a message of its
own. Telegram and web chat get one message per reply with a button per option. Email gets one
message listing every question, numbered, so a reporter can answer them all in one reply
("1. yes", "2. last night"), which ``intake.answers.parse_numbered_answers`` reads back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from intake.messages import Option, Reply
from intake.sms import to_gsm7

WORDING: dict[str, str] = {
    "sms_inline": "Reply {choices}",
    "sms_multiple": "Reply with all numbers that apply, e.g. {example}",
    "chat_multiple": "Tap one, or type all the numbers that apply, e.g. {example}",
    "email_instruction": (
        "Reply to this email with your answers next to the numbers, for example: 1. yes"
    ),
    "email_multiple": "(Choose all that apply.)",
    "email_subject_questions": "Some questions about your report",
    "email_subject": "About your report",
    "email_subject_reference": "[{reference}] {subject}",
}
"""Every fixed phrase the renderers add, in one place."""

SMS_INLINE_LIMIT = 40
"""Longest "Reply 1 Yes, 2 No" line kept inline; longer option lists go one per line."""

EMAIL_INLINE_LIMIT = 60
"""Longest "Yes / No / Not sure" line kept inline in an email; longer lists are bulleted."""

_EMAIL_INDENT = "   "


@dataclass(frozen=True, slots=True)
class Button:
    """A button under a chat message: what it says, and the value sent back when pressed."""

    label: str
    value: str


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """One chat message (Telegram, web chat): text and its buttons.

    Attributes:
        text: The message text; for multi-select questions it includes the numbered options
            and how to pick several.
        buttons: One per option, in order.
        multiple: True when several options may be chosen ("1 3" typed back).
        urgent: True for safety text, which adapters must send first and never drop.
    """

    text: str
    buttons: tuple[Button, ...] = ()
    multiple: bool = False
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class EmailBody:
    """One email answering a reporter: subject and plain-text body.

    Attributes:
        subject: With the case reference in brackets when known, so replies thread to it.
        text: The plain-text body.
        questions: The replies numbered in the body, question 1 first, so that answers
            read by ``parse_numbered_answers`` can be matched to their question.
    """

    subject: str
    text: str
    questions: tuple[Reply, ...] = field(default=())


def render_sms(replies: Sequence[Reply]) -> list[str]:
    """Render replies as SMS bodies, one per send, urgent safety text first on its own.

    Replies are separated by a blank line. Options follow their reply: inline
    ("Reply 1 Yes, 2 No") when that line is short, otherwise one numbered line each, and
    for multi-select questions with a line saying to reply with every number that applies.
    Everything passes through ``to_gsm7``. Nothing is trimmed.

    Args:
        replies: What the engine wants to say, in order.

    Returns:
        The bodies to send, in order: the urgent replies' message (if any), then the rest's
        (if any). Empty when there is nothing to say.
    """
    groups = ([r for r in replies if r.urgent], [r for r in replies if not r.urgent])
    return [
        to_gsm7("\n\n".join(_sms_reply(reply) for reply in group)) for group in groups if group
    ]


def render_buttons(replies: Sequence[Reply]) -> list[RenderedMessage]:
    """Render replies for channels with buttons (Telegram, web chat), one message each.

    Each option becomes a button carrying its value. A multi-select question also lists the
    options by number in its text and says to type every number that applies, since a
    button press sends one value.

    Args:
        replies: What the engine wants to say, in order.

    Returns:
        One message per reply, urgent replies first, otherwise in the order given.
    """
    return [_chat_message(reply) for reply in _urgent_first(replies)]


def render_email(replies: Sequence[Reply], *, reference: str | None) -> EmailBody:
    """Render replies as one email a reporter can answer in one go.

    Urgent text comes first, then other statements, then (when there are questions) how to
    answer and every question numbered from 1 with its options written out. Options are
    listed as words, not numbers, so that quoted option lines never look like numbered
    answers and a reporter answers "2. noise" rather than "2. 1".

    Args:
        replies: What the engine wants to say, in order.
        reference: The case reference, such as ``"ASB-2026-000123"``, if there is one yet.

    Returns:
        Subject, plain-text body and the numbered questions.
    """
    ordered = _urgent_first(replies)
    questions = tuple(reply for reply in ordered if _is_question(reply))
    paragraphs = [reply.text for reply in ordered if not _is_question(reply) and reply.text]
    if questions:
        paragraphs.append(WORDING["email_instruction"])
        paragraphs += [_email_question(n, reply) for n, reply in enumerate(questions, start=1)]
    subject = WORDING["email_subject_questions" if questions else "email_subject"]
    if reference:
        subject = WORDING["email_subject_reference"].format(reference=reference, subject=subject)
    return EmailBody(subject=subject, text="\n\n".join(paragraphs) + "\n", questions=questions)


def _urgent_first(replies: Sequence[Reply]) -> list[Reply]:
    return sorted(replies, key=lambda reply: not reply.urgent)


def _is_question(reply: Reply) -> bool:
    return reply.question_id is not None or bool(reply.options)


def _numbered(options: Sequence[Option]) -> list[str]:
    return [f"{number} {option.label}" for number, option in enumerate(options, start=1)]


def _example(options: Sequence[Option]) -> str:
    """Numbers to show in "e.g. 1 3": the first and third, or all when there are fewer."""
    numbers = (1, 3) if len(options) >= 3 else range(1, len(options) + 1)
    return " ".join(str(number) for number in numbers)


def _sms_reply(reply: Reply) -> str:
    lines = [reply.text] if reply.text else []
    if not reply.options:
        return "\n".join(lines)
    inline = WORDING["sms_inline"].format(choices=", ".join(_numbered(reply.options)))
    if reply.multiple:
        lines += [*_numbered(reply.options),
                  WORDING["sms_multiple"].format(example=_example(reply.options))]
    elif len(inline) <= SMS_INLINE_LIMIT:
        lines.append(inline)
    else:
        lines += _numbered(reply.options)
    return "\n".join(lines)


def _chat_message(reply: Reply) -> RenderedMessage:
    text = reply.text
    if reply.multiple and reply.options:
        listing = "\n".join(_numbered(reply.options))
        hint = WORDING["chat_multiple"].format(example=_example(reply.options))
        text = "\n\n".join(part for part in (text, listing, hint) if part)
    return RenderedMessage(
        text=text,
        buttons=tuple(Button(option.label, option.value) for option in reply.options),
        multiple=reply.multiple,
        urgent=reply.urgent,
    )


def _email_question(number: int, reply: Reply) -> str:
    first, *rest = reply.text.splitlines() or [""]
    lines = [f"{number}. {first}".rstrip(), *(_EMAIL_INDENT + line for line in rest)]
    labels = [option.label for option in reply.options]
    if reply.multiple:
        lines.append(_EMAIL_INDENT + WORDING["email_multiple"])
    inline = " / ".join(labels)
    if labels and not reply.multiple and len(inline) <= EMAIL_INLINE_LIMIT:
        lines.append(_EMAIL_INDENT + inline)
    else:
        lines += [f"{_EMAIL_INDENT}- {label}" for label in labels]
    return "\n".join(line.rstrip() for line in lines)
