"""Email: our own SMTP server on the service's loop for reports in, a relay for replies out.

Inbound, an aiosmtpd server (no thread controller) refuses any recipient but our reporting
addresses at ``RCPT`` (550, before a byte of the message is read) and anything over the size
limit (552, from aiosmtpd's ``data_size_limit``). Each accepted message becomes one
:class:`~intake.messages.InboundMessage` — plain text preferred, HTML turned into text, quoted
replies and signatures taken off, attachments kept — and "250" is answered only after the
intake handler has stored it. If the handler fails the answer is "451" and the sending server
tries again later, so nothing acknowledged is ever lost. Mail that cannot be read is still
handed on, with empty text and a ``parse_error`` in its reply context, so it is kept and
flagged. RFC 3834 mail (auto-submitted, bulk or list mail, bounces) is handed on with
``auto_reply_allowed=False``: it is processed, but never answered.

Outbound, :meth:`EmailChannel.send` renders the replies as one email, threads it to the
message it answers (``In-Reply-To``/``References``, ``Re:`` and the case reference in the
subject, a Message-ID that embeds the reference so that a reply finds the case even with
the subject changed), marks it ``Auto-Submitted`` and hands it to the relay with aiosmtplib.

A message over the size limit is refused by aiosmtpd with 552, in words the reporter will
read in their own server's bounce. When that happens after DATA (the client did not declare
SIZE), the envelope sender is also sent a short notice directly through the relay — not
through the intake service: nothing was received, so there is no message to store, no
Message-ID to deduplicate on and nothing for the conversation engine to answer. The notice
follows RFC 3834 as far as the envelope allows and shares the replies' rate limit.

Addresses and bodies never reach INFO logs: addresses are cut to their domain, messages to
their size and a hash of their Message-ID.
"""

from __future__ import annotations

import asyncio
import email
import email.errors
import email.policy
import hashlib
import logging
import re
import socket
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Collection, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage, Message, MIMEPart
from email.utils import format_datetime
from html.parser import HTMLParser
from typing import AnyStr

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.base import InboundHandler, Outgoing, SendResult
from intake.messages import Attachment, Channel, InboundMessage, Reply
from intake.render import render_email

log = logging.getLogger(__name__)

WORDING: dict[str, str] = {
    "accepted": "250 Message accepted",
    "try_later": "451 4.3.0 try again later",
    "unknown_recipient": "550 5.1.1 No such mailbox here: mail for reports only",
    "too_large": (
        "552 5.3.4 Message too big for this service (the limit is {limit}). "
        "Please send photos or videos in separate emails."
    ),
    "too_large_subject": "Your email was too large to receive",
    "too_large_text": (
        "Your email to {address} was not received: it was larger than {limit}, the most "
        "we can accept.\n\nPlease send it again with fewer or smaller photos or videos, or "
        "send them in separate emails.\n\nIf you are in danger now, call 999."
    ),
    "reply_prefix": "Re: ",
}
"""Every fixed phrase this channel says, in one place."""

ROBOT_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster"})
"""Senders that are machines (RFC 3834 §2): never answered automatically."""

BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})

HOUR = timedelta(hours=1)
STRUCTURE_DEFECTS: dict[type[email.errors.MessageDefect], str] = {
    email.errors.StartBoundaryNotFoundDefect: "multipart boundary never found",
    email.errors.NoBoundaryInMultipartDefect: "multipart without a boundary",
    email.errors.MultipartInvariantViolationDefect: "multipart structure broken",
}
"""Defects that leave no body to read: the message is kept and flagged instead."""

RELAY_TIMEOUT = 30.0
"""Seconds to wait for the relay at each step before the send is retried later."""

RATE_WINDOWS_SWEPT_AT = 1024
"""With more recipients than this in memory, idle ones are forgotten."""

MAX_EXTERNAL_ID = 200
"""Longer Message-IDs are hashed: the store keeps at most 255 characters."""

MAX_REFERENCES = 20
"""How many Message-IDs a reply's References keeps (the oldest and the most recent)."""

REFERENCE_RE = re.compile(r"\bASB-(\d{4})-(\d{1,6})\b", re.IGNORECASE)
_REPLY_PREFIX_RE = re.compile(r"^\s*((re|aw|sv|fw|fwd)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_FORWARD_RE = re.compile(r"^\s*(fw|fwd)\s*:", re.IGNORECASE)
_ATTRIBUTION_RE = re.compile(r"^On\b.*\d.*\bwrote:$", re.IGNORECASE)
_ORIGINAL_MESSAGE_RE = re.compile(r"^-{2,}\s*Original Message\s*-{2,}$", re.IGNORECASE)
_SEPARATOR_RE = re.compile(r"^[_\-=\s]*$")
_HEADER_BLOCK_LOOKAHEAD = 4
"""Lines after "From:" searched for the rest of a quoted header block."""


# --- reading a message ------------------------------------------------------------------


def parse(
    raw: bytes,
    *,
    envelope_sender: str,
    received_at: datetime,
    own_addresses: Collection[str] = (),
) -> InboundMessage:
    """Turn one received message into an inbound message; never raise, never drop.

    Mail that cannot be read (the parser fails, the MIME structure is broken, there is no
    From address) comes back with empty text, the raw bytes and ``reply_context["parse_error"]``
    saying why, so the intake service keeps it and an officer can read the original.

    Args:
        raw: The message exactly as received.
        envelope_sender: The SMTP ``MAIL FROM`` address; ``""`` or ``"<>"`` for a null
            return path (a bounce).
        received_at: When it arrived (aware, UTC).
        own_addresses: Our addresses, so that mail claiming to be from us is never answered.

    Returns:
        The message, with ``auto_reply_allowed`` False where RFC 3834 forbids an answer.
    """
    envelope_sender = "" if envelope_sender.strip() in ("", "<>") else envelope_sender.lower()
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:  # the parser is lenient; anything it raises is a broken message
        return _unreadable(raw, f"unparseable ({type(exc).__name__})", envelope_sender, received_at)
    try:
        return _read(message, raw, envelope_sender, received_at, own_addresses)
    except Exception as exc:  # a malformed header can make the email package raise late
        return _unreadable(raw, f"unreadable ({type(exc).__name__})", envelope_sender, received_at)


def _read(
    message: EmailMessage,
    raw: bytes,
    envelope_sender: str,
    received_at: datetime,
    own_addresses: Collection[str],
) -> InboundMessage:
    subject = _clean(str(message.get("Subject", ""))) or None
    message_id = _clean(str(message.get("Message-ID", "")))
    context = _threading(message, message_id, subject)
    from_address = _from_address(message)
    sender = from_address or envelope_sender
    refusal = auto_reply_refusal(message, sender, envelope_sender, own_addresses)
    text, attachments = "", tuple[Attachment, ...]()
    problem = _structure_problem(message) or (None if from_address else "no From address")
    if problem is None:
        forwarded = bool(_FORWARD_RE.match(subject or ""))
        body = message.get_body(preferencelist=("plain", "html"))
        if body is not None:
            text = _text_of(body)
            if body.get_content_subtype() == "html":
                text = html_to_text(text, quotes=forwarded)
            # A forwarded email is evidence: nothing of it is taken off as "quoted".
            text = text.strip() if forwarded else strip_quoted(text)
        attachments = tuple(_attachments(message, body))
    else:
        context["parse_error"] = problem
    return InboundMessage(
        channel=Channel.EMAIL,
        sender=sender,
        external_id=_external_id(message_id, raw),
        text=text,
        received_at=received_at,
        attachments=attachments,
        subject=subject,
        in_reply_to_reference=_reference(subject, message),
        raw=raw,
        auto_reply_allowed=refusal is None,
        reply_context=context,
    )


def _unreadable(
    raw: bytes, reason: str, envelope_sender: str, received_at: datetime
) -> InboundMessage:
    return InboundMessage(
        channel=Channel.EMAIL,
        sender=envelope_sender,
        external_id=_external_id("", raw),
        text="",
        received_at=received_at,
        raw=raw,
        auto_reply_allowed=False,  # headers unread: RFC 3834 cannot be checked
        reply_context={"parse_error": reason},
    )


def _clean(value: str) -> str:
    """A header value on one line (folding and stray line breaks removed)."""
    return " ".join(value.split())


def _external_id(message_id: str, raw: bytes) -> str:
    if not message_id:
        return "sha256:" + hashlib.sha256(raw).hexdigest()
    if len(message_id) > MAX_EXTERNAL_ID:
        return "sha256:" + hashlib.sha256(message_id.encode("utf-8", "replace")).hexdigest()
    return message_id


def _from_address(message: EmailMessage) -> str:
    header = message.get("From")
    addresses = getattr(header, "addresses", ())
    for address in addresses:
        spec = str(address.addr_spec).strip().lower()
        local, at, domain = spec.rpartition("@")
        if at and local and domain:
            return spec
    return ""


def _threading(message: EmailMessage, message_id: str, subject: str | None) -> dict[str, str]:
    context = {
        "message_id": message_id,
        "subject": subject or "",
        "references": _clean(str(message.get("References", ""))),
    }
    return {key: value for key, value in context.items() if value}


def _reference(subject: str | None, message: EmailMessage) -> str | None:
    """A case reference in the subject, else in our Message-IDs the mail replies to."""
    references = _clean(str(message.get("References", ""))).split()
    for place in (subject or "", str(message.get("In-Reply-To", "")), *reversed(references)):
        match = REFERENCE_RE.search(place)
        if match:
            return f"ASB-{match.group(1)}-{int(match.group(2)):06d}"
    return None


def auto_reply_refusal(
    message: Message,
    sender: str,
    envelope_sender: str,
    own_addresses: Collection[str] = (),
) -> str | None:
    """Why RFC 3834 forbids answering this message automatically, or None if it may be.

    Args:
        message: The parsed message (only its headers are read).
        sender: The From address (lower case).
        envelope_sender: The ``MAIL FROM`` address, ``""`` for a null return path.
        own_addresses: Our addresses: mail from ourselves is never answered (loops).
    """
    for name, refuses in HEADER_REFUSALS.items():
        value = message.get(name)
        if value is not None and refuses(_clean(str(value)).lower()):
            return name
    return _address_refusal(sender, envelope_sender, own_addresses)


def _address_refusal(
    sender: str, envelope_sender: str, own_addresses: Collection[str]
) -> str | None:
    if not envelope_sender:
        return "empty return path"
    own = {address.lower() for address in own_addresses}
    for address in (sender, envelope_sender):
        local = address.rpartition("@")[0]
        if local in ROBOT_LOCAL_PARTS or local.startswith("owner-") or local.endswith("-request"):
            return "sender is a mail system"
        if address in own:
            return "sender is ourselves"
    return None


HEADER_REFUSALS: dict[str, Callable[[str], bool]] = {
    "Auto-Submitted": lambda value: value.split(";", 1)[0].strip() != "no",
    "Precedence": lambda value: value in BULK_PRECEDENCE,
    "List-Id": lambda value: True,
    "List-Unsubscribe": lambda value: True,
    "List-Post": lambda value: True,
    "Return-Path": lambda value: value in ("<>", ""),
    "Content-Type": lambda value: value.startswith("multipart/report"),
}
"""Headers (value lower-cased) that mean a message must not be answered automatically."""


def _structure_problem(message: EmailMessage) -> str | None:
    for part in message.walk():
        for defect in part.defects:
            for kind, reason in STRUCTURE_DEFECTS.items():
                if isinstance(defect, kind):
                    return f"broken MIME: {reason}"
    return None


def _text_of(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except LookupError:  # an unknown charset: read it as UTF-8 rather than lose it
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _leaves(part: MIMEPart) -> Iterator[MIMEPart]:
    """Every part that is not a multipart container; an attached email stays one part."""
    if part.get_content_maintype() == "multipart" and part.is_multipart():
        for child in part.iter_parts():
            yield from _leaves(child)
    else:
        yield part


def _attachments(message: MIMEPart, body: MIMEPart | None) -> Iterator[Attachment]:
    for part in _leaves(message):
        if part is body:
            continue
        filename = part.get_filename()
        is_text = part.get_content_maintype() == "text" and part.get_content_subtype() in (
            "plain", "html"
        )
        if is_text and filename is None and part.get_content_disposition() != "attachment":
            continue  # the other alternative of the body
        data = _bytes_of(part)
        yield Attachment(
            content_type=part.get_content_type(), size=len(data), filename=filename, data=data
        )


def _bytes_of(part: MIMEPart) -> bytes:
    if part.get_content_maintype() == "message":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return inner[0].as_bytes(policy=email.policy.default)
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


# --- turning HTML into text, and taking quoted text off ----------------------------------

_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "dd", "div", "dl", "dt", "footer", "h1", "h2", "h3", "h4",
    "h5", "h6", "header", "hr", "ol", "p", "section", "table", "tr", "ul",
})
_PARAGRAPH_TAGS = frozenset({"p", "ul", "ol", "dl", "h1", "h2", "h3", "h4", "h5", "h6"})
"""Blocks that browsers set apart with a blank line."""
_SKIPPED_TAGS = frozenset({"head", "script", "style", "title", "template", "blockquote"})
"""Never shown as text; ``blockquote`` is how mail clients quote what is replied to."""


class _HtmlText(HTMLParser):
    def __init__(self, *, quotes: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.skipped = _SKIPPED_TAGS if not quotes else _SKIPPED_TAGS - {"blockquote"}
        self.chunks: list[str] = []
        self._newlines = 0
        """Line breaks at the end of the text so far: block edges add only what is missing."""
        self._skipping: dict[str, int] = {}
        self._pre = 0

    def _write(self, text: str) -> None:
        self.chunks.append(text)
        stripped = text.rstrip("\n")
        self._newlines = len(text) - len(stripped) + (self._newlines if not stripped else 0)

    def _break(self, lines: int) -> None:
        if self.chunks and self._newlines < lines:
            self._write("\n" * (lines - self._newlines))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self._skipping.clear()  # an unclosed <head> or <title> must not hide the body
        if tag in self.skipped:
            self._skipping[tag] = self._skipping.get(tag, 0) + 1
        elif any(self._skipping.values()):
            return
        elif tag == "br":
            self._write("\n")
        elif tag == "li":
            self._break(1)
            self._write("- ")
        elif tag == "pre":
            self._pre += 1
            self._break(1)
        elif tag in ("td", "th"):
            self._write(" ")
        elif tag in _BLOCK_TAGS:
            self._break(2 if tag in _PARAGRAPH_TAGS else 1)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.skipped:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.skipped:
            if self._skipping.get(tag):
                self._skipping[tag] -= 1
        elif any(self._skipping.values()):
            return
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)
            self._break(1)
        elif tag in _BLOCK_TAGS or tag == "li":
            self._break(2 if tag in _PARAGRAPH_TAGS else 1)

    def handle_data(self, data: str) -> None:
        if any(self._skipping.values()):
            return
        if not self._pre:
            data = re.sub(r"\s+", " ", data)
            if data == " " and (self._newlines or not self.chunks):
                return  # spacing between tags at the start of a line
        self._write(data)


def html_to_text(html: str, *, quotes: bool = False) -> str:
    """Readable text from an HTML body, with the standard library's parser.

    Blocks and ``<br>`` become line breaks, list items "- " lines; scripts, styles and the
    head are left out, and so are quoted replies (``<blockquote>``) unless ``quotes``;
    entities are decoded.
    """
    parser = _HtmlText(quotes=quotes)
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.chunks).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def strip_quoted(text: str) -> str:
    """The new part of a reply: quoted lines, the quoted original and signatures removed.

    Lines starting with ">" are dropped wherever they are (answers written between them are
    kept). An "On <date> … wrote:" line is dropped when quoted text or nothing follows it,
    so a report that says "On 12 March he wrote:" and then what he wrote keeps it. Everything
    from Outlook's "-----Original Message-----" or "From: … Sent: …" block, or a "-- "
    signature line, onwards is cut.
    """
    lines = [line.rstrip() for line in text.splitlines()]
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if _ends_reply(lines, index):
            break
        attribution = _attribution_length(lines, index)
        if attribution:
            index += attribution
            continue
        if not stripped.startswith(">"):
            kept.append(line)
        index += 1
    while kept and _SEPARATOR_RE.match(kept[-1]):
        kept.pop()
    while kept and not kept[0].strip():
        kept.pop(0)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def _ends_reply(lines: list[str], index: int) -> bool:
    line = lines[index]  # already without trailing spaces: "-- " is "--" here
    if line == "--" or _ORIGINAL_MESSAGE_RE.match(line.strip()):
        return True
    if line.strip().lower().startswith("from:"):
        following = [candidate.strip().lower() for candidate in lines[index + 1 :]]
        block = [candidate for candidate in following if candidate][:_HEADER_BLOCK_LOOKAHEAD]
        names = {candidate.partition(":")[0] for candidate in block}
        return "sent" in names or ("date" in names and bool(names & {"to", "subject"}))
    return False


def _attribution_length(lines: list[str], index: int) -> int:
    """How many lines an "On … wrote:" line takes (clients wrap it), or 0 if it is not one."""
    stripped = lines[index].strip()
    if not stripped.lower().startswith("on "):
        return 0
    for length in (1, 2)[: len(lines) - index]:
        candidate = " ".join(line.strip() for line in lines[index : index + length])
        if _ATTRIBUTION_RE.match(candidate):
            rest = [line.strip() for line in lines[index + length :] if line.strip()]
            return length if not rest or rest[0].startswith(">") else 0
    return 0


# --- writing a message --------------------------------------------------------------------


def new_message_id(reference: str | None, domain: str) -> str:
    """A new Message-ID; with a case reference in it, so that replies thread to the case."""
    unique = uuid.uuid4().hex
    return f"<{reference}.{unique}@{domain}>" if reference else f"<{unique}@{domain}>"


def render(
    outgoing: Outgoing,
    *,
    from_address: str,
    message_id: str,
    date: datetime,
    auto_submitted: str | None = None,
) -> EmailMessage:
    """The email for one send: one form-like message with every reply, threaded.

    Args:
        outgoing: What to send; ``context`` is the inbound message's reply context.
        from_address: Our address.
        message_id: This message's Message-ID.
        date: Now.
        auto_submitted: ``Auto-Submitted`` (RFC 3834): "auto-replied" for an answer to a
            message (the default when the context names one), "auto-generated" otherwise.
    """
    rendered = render_email(outgoing.replies, reference=outgoing.reference)
    context = outgoing.context
    answered = _clean(context.get("message_id", ""))
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = outgoing.recipient
    message["Subject"] = _subject(outgoing, rendered.subject)
    message["Date"] = format_datetime(date.astimezone(UTC))
    message["Message-ID"] = message_id
    if answered:
        message["In-Reply-To"] = answered
        message["References"] = _references(context.get("references", ""), answered)
    message["Auto-Submitted"] = auto_submitted or (
        "auto-replied" if answered else "auto-generated"
    )
    message.set_content(rendered.text)
    return message


def _subject(outgoing: Outgoing, rendered: str) -> str:
    if outgoing.subject:
        return _clean(outgoing.subject)
    theirs = _REPLY_PREFIX_RE.sub("", _clean(outgoing.context.get("subject", "")))
    if not theirs:
        return rendered
    reference = outgoing.reference
    if reference and reference.lower() not in theirs.lower():
        theirs = f"[{reference}] {theirs}"
    return WORDING["reply_prefix"] + theirs


def _references(earlier: str, answered: str) -> str:
    ids = [*_clean(earlier).split(), answered]
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
    return " ".join(ids)


# --- the channel ------------------------------------------------------------------------


def _domain(address: str) -> str:
    """What of an address may be logged."""
    return address.rpartition("@")[2] or "(none)"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:12]


def _size_words(size: int) -> str:
    for unit, scale in (("MB", 1_000_000), ("KB", 1_000)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


class _Mailbox:
    """aiosmtpd's handler: the hooks it calls at RCPT and after DATA."""

    def __init__(
        self,
        addresses: Collection[str],
        own_addresses: Collection[str],
        handle: InboundHandler,
        clock: Callable[[], datetime],
        on_too_large: Callable[[Envelope], None],
    ) -> None:
        self.addresses = frozenset(address.lower() for address in addresses)
        """Recipients we accept mail for."""
        self.own_addresses = frozenset(address.lower() for address in own_addresses)
        """Senders that are ourselves: never answered, so replies cannot loop."""
        self.handle = handle
        self.clock = clock
        self.on_too_large = on_too_large

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.lower() not in self.addresses:
            log.info("email refused for %s: not one of our addresses", _domain(address))
            return WORDING["unknown_recipient"]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = parse(
            raw,
            envelope_sender=envelope.mail_from or "",
            received_at=self.clock(),
            own_addresses=self.own_addresses,
        )
        problem = message.reply_context.get("parse_error")
        try:
            handled = await self.handle(message)
        except Exception:  # answered 451: the sender keeps the message and tries again
            log.exception(
                "email from %s (%d bytes, id %s) not stored; answered 451",
                _domain(message.sender), len(raw), _digest(message.external_id),
            )
            return WORDING["try_later"]
        log.info(
            "email from %s accepted: %d bytes, %d attachments, id %s, inbound %s%s%s%s",
            _domain(message.sender), len(raw), len(message.attachments),
            _digest(message.external_id), handled.inbound_id,
            "" if handled.first_delivery else ", a redelivery",
            "" if message.auto_reply_allowed else ", no automatic reply (RFC 3834)",
            f", kept unread: {problem}" if problem else "",
        )
        return WORDING["accepted"]


class _SMTPServer(SMTP):
    """aiosmtpd's SMTP session, telling senders plainly when a message is too big."""

    def __init__(
        self,
        mailbox: _Mailbox,
        *,
        too_large: str,
        data_size_limit: int,
        hostname: str,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        super().__init__(
            mailbox,
            data_size_limit=data_size_limit,
            enable_SMTPUTF8=True,
            hostname=hostname,
            ident="ESMTP",
            loop=loop,
        )
        self._too_large = too_large
        self._mailbox = mailbox

    async def push(self, status: AnyStr) -> None:
        # aiosmtpd answers "552" itself, at MAIL (a declared SIZE) or after DATA; the text
        # reaches the reporter in their own server's bounce, so it says what to do.
        if isinstance(status, str) and status.startswith("552 "):
            if self.envelope is not None and self.envelope.rcpt_tos:
                self._mailbox.on_too_large(self.envelope)
            await super().push(self._too_large)
            return
        await super().push(status)


class EmailChannel:
    """Reports by email: an SMTP server on our loop, replies through a relay.

    Implements :class:`~channels.base.ChannelAdapter` for :attr:`Channel.EMAIL`.
    """

    channels: tuple[Channel, ...] = (Channel.EMAIL,)

    def __init__(
        self,
        *,
        listen_host: str,
        listen_port: int,
        addresses: tuple[str, ...],
        from_address: str,
        max_message_bytes: int,
        relay_host: str,
        relay_port: int,
        relay_starttls: bool,
        relay_username: str | None,
        relay_password: str | None,
        replies_per_sender_per_hour: int,
        handle: InboundHandler,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.listen_host = listen_host
        self.listen_port = listen_port
        self.addresses = tuple(address.lower() for address in addresses)
        self.from_address = from_address
        self.max_message_bytes = max_message_bytes
        self.relay_host = relay_host
        self.relay_port = relay_port
        self.relay_starttls = relay_starttls
        self.relay_username = relay_username
        self.relay_password = relay_password
        self.replies_per_sender_per_hour = replies_per_sender_per_hour
        self.clock = clock
        self._mailbox = _Mailbox(
            self.addresses, (*self.addresses, from_address), handle, clock, self._too_large
        )
        self._server: asyncio.Server | None = None
        self._sessions: weakref.WeakSet[_SMTPServer] = weakref.WeakSet()
        self._notices: set[asyncio.Task[SendResult]] = set()
        self._sent: dict[str, deque[datetime]] = {}

    def router(self) -> None:
        """Email has no HTTP routes."""
        return None

    @property
    def port(self) -> int:
        """The port the SMTP server listens on (the one chosen when started with port 0)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the email channel is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Listen for mail on the running loop (no thread)."""
        loop = asyncio.get_running_loop()
        # aiosmtpd logs every envelope address at INFO; ours are cut to the domain.
        library_log = logging.getLogger("mail.log")
        if library_log.level == logging.NOTSET:
            library_log.setLevel(logging.WARNING)
        hostname = await asyncio.to_thread(socket.getfqdn)  # a DNS lookup: off the loop
        too_large = WORDING["too_large"].format(limit=_size_words(self.max_message_bytes))

        def session() -> _SMTPServer:
            smtp = _SMTPServer(
                self._mailbox,
                too_large=too_large,
                data_size_limit=self.max_message_bytes,
                hostname=hostname,
                loop=loop,
            )
            self._sessions.add(smtp)
            return smtp

        self._server = await loop.create_server(session, self.listen_host, self.listen_port)
        log.info("email listening on %s:%d", self.listen_host, self.port)

    async def stop(self) -> None:
        """Stop listening, drop open sessions and finish any size notices being sent.

        A session cut off mid-message has not been answered 250, so its sender tries again.
        """
        if self._server is not None:
            self._server.close()
            for smtp in list(self._sessions):
                if smtp.transport is not None:
                    smtp.transport.close()
            self._sessions.clear()
            await self._server.wait_closed()
            self._server = None
        await self.wait_for_notices()

    async def health(self) -> str:
        """"ok" while the SMTP server is listening."""
        if self._server is not None and self._server.is_serving():
            return "ok"
        return "down: the SMTP server is not listening"

    async def send(self, outgoing: Outgoing) -> SendResult:
        """Render the replies as one threaded email and hand it to the relay.

        Returns:
            ``ok`` with our Message-ID; retryable for a rate-limited recipient, a relay that
            cannot be reached, refuses to log in or answers 4xx; permanent for 5xx.
        """
        return await self._send(outgoing, auto_submitted=None)

    async def _send(self, outgoing: Outgoing, *, auto_submitted: str | None) -> SendResult:
        recipient = outgoing.recipient.strip().lower()
        local, at, domain = recipient.rpartition("@")
        if not (at and local and domain):
            return SendResult(ok=False, error="not an email address")
        sent_at = self._reserve(recipient)
        if sent_at is None:
            log.info("email reply to %s rate limited", _domain(recipient))
            return SendResult(ok=False, retryable=True, error="rate limited")
        our_id = new_message_id(outgoing.reference, _domain(self.from_address))
        try:
            message = render(
                outgoing,
                from_address=self.from_address,
                message_id=our_id,
                date=self.clock(),
                auto_submitted=auto_submitted,
            )
            await aiosmtplib.send(
                message,
                sender=self.from_address,
                recipients=[outgoing.recipient.strip()],
                hostname=self.relay_host,
                port=self.relay_port,
                start_tls=self.relay_starttls,
                username=self.relay_username or None,
                password=self.relay_password if self.relay_username else None,
                timeout=RELAY_TIMEOUT,
            )
        except (aiosmtplib.SMTPException, OSError, ValueError) as exc:
            self._release(recipient, sent_at)
            result = _failure(exc)
            log.warning(
                "email to %s not sent (%s): %s", _domain(recipient),
                "will retry" if result.retryable else "permanent", result.error,
            )
            return result
        log.info("email sent to %s, id %s", _domain(recipient), _digest(our_id))
        return SendResult(ok=True, external_id=our_id)

    def _reserve(self, recipient: str) -> datetime | None:
        """A slot in the recipient's sliding hour, or None when it is full."""
        now = self.clock()
        cutoff = now - HOUR
        if len(self._sent) > RATE_WINDOWS_SWEPT_AT:
            for key in [k for k, times in self._sent.items() if not times or times[-1] <= cutoff]:
                del self._sent[key]
        window = self._sent.setdefault(recipient, deque())
        while window and window[0] <= cutoff:
            window.popleft()
        if len(window) >= self.replies_per_sender_per_hour:
            return None
        window.append(now)
        return now

    def _release(self, recipient: str, sent_at: datetime) -> None:
        window = self._sent.get(recipient)
        if window is not None and sent_at in window:
            window.remove(sent_at)

    def _too_large(self, envelope: Envelope) -> None:
        """Tell the sender of an over-size message why, unless RFC 3834 forbids it.

        Only the envelope is left (aiosmtpd has discarded the data), so only the return path
        can be judged. The notice goes through the same rate limit as replies, in a task
        that :meth:`stop` waits for.
        """
        sender = (envelope.mail_from or "").strip().lower()
        envelope_sender = "" if sender in ("", "<>") else sender
        refusal = _address_refusal(
            envelope_sender, envelope_sender, self._mailbox.own_addresses
        )
        log.info(
            "email from %s refused: over %d bytes%s", _domain(envelope_sender),
            self.max_message_bytes, f"; not told ({refusal})" if refusal else "",
        )
        if refusal is not None:
            return
        address = envelope.rcpt_tos[0] if envelope.rcpt_tos else self.from_address
        limit = _size_words(self.max_message_bytes)
        notice = Outgoing(
            key=f"too-large:{uuid.uuid4().hex}",
            channel=Channel.EMAIL,
            recipient=envelope_sender,
            replies=(Reply(WORDING["too_large_text"].format(address=address, limit=limit)),),
            subject=WORDING["too_large_subject"],
        )
        task = asyncio.get_running_loop().create_task(
            self._send(notice, auto_submitted="auto-replied")
        )
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)

    async def wait_for_notices(self) -> None:
        """Wait until every size notice being sent has been sent (or has failed)."""
        while self._notices:
            await asyncio.gather(*self._notices, return_exceptions=True)


def _failure(exc: Exception) -> SendResult:
    """What a failed hand-over to the relay means: try again later, or never."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        codes = [refused.code for refused in exc.recipients]
        permanent = all(500 <= code < 600 for code in codes)
        return SendResult(
            ok=False, retryable=not permanent, error=f"recipient refused ({codes[0]})"
        )
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        # The relay's credentials are wrong: fixing them must let waiting replies go.
        return SendResult(ok=False, retryable=True, error=f"relay login refused ({exc.code})")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        permanent = 500 <= exc.code < 600
        return SendResult(ok=False, retryable=not permanent, error=f"relay answered {exc.code}")
    if isinstance(exc, ValueError):
        return SendResult(ok=False, error=f"cannot be written as email ({exc})")
    return SendResult(ok=False, retryable=True, error=f"relay unreachable ({type(exc).__name__})")

