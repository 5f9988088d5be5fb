"""Web chat at ``/chat``: a server-rendered page that works with and without JavaScript.

Someone may use this page frightened, at 3 am, on a shared phone. So it is one plain page:
the conversation, a box to type in, a button per option, a file picker for photos and
recordings, a line about 999 and a "Leave this site quickly" button. Without JavaScript every
send is an ordinary form post followed by a redirect back to the page; with it,
``chat.js`` posts the same form with ``fetch`` and adds the answers in place. There is no
inline script or style, so the strict Content-Security-Policy below holds.

The reporter is a signed, HttpOnly cookie holding a random session id; the sender address is
``"web:" + id``. Cross-site posts are refused twice over: the request must come from this
host (``Sec-Fetch-Site``, ``Origin`` or ``Referer``) and carry the session's token.

Web chat has no push channel. The page shows the conversation from a small in-memory log per
session (the last :data:`LOG_LINES` lines): what the reporter sent, the handler's inline
replies, and whatever the outbox hands to :meth:`WebChatChannel.send`, which the page picks up
by polling ``/chat/messages``. After a restart the page starts empty; the transcript itself is
in the database. The log belongs to one process: with several ``intake serve`` processes
behind a load balancer, keep each web chat session on one of them (session affinity).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import secrets
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePath
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message

from channels.base import InboundHandler, Outgoing, SendResult
from intake.messages import Attachment, Channel, InboundMessage
from intake.render import Button, RenderedMessage, render_buttons

log = logging.getLogger(__name__)

WEB_DIR: Final = Path(__file__).resolve().parent / "web"

COOKIE_NAME: Final = "webchat_session"
COOKIE_PATH: Final = "/chat"
SESSION_SALT: Final = "intake.webchat.session"
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"
SENDER_PREFIX: Final = "web:"

EXIT_WORD: Final = "exit"
"""What the quick-exit button sends: the engine's word for leaving (saves a partial report)."""
NEUTRAL_SITE: Final = "https://www.bbc.co.uk/weather"
"""Where the quick exit goes: an ordinary page that says nothing about this one."""

LOG_LINES: Final = 200
"""Lines of conversation kept per session for the page."""
MAX_SESSIONS: Final = 10_000
"""Sessions whose page log is kept in memory; the least recently used is forgotten first."""
POLL_SECONDS: Final = 10
MAX_TEXT_CHARS: Final = 10_000
MAX_CHOICE_CHARS: Final = 200
MAX_FILE_BYTES: Final = 10 * 1024 * 1024
MAX_FILES: Final = 5
MAX_BODY_BYTES: Final = MAX_FILES * MAX_FILE_BYTES + 1024 * 1024
"""A request larger than this is refused before its files are read."""

ALLOWED_MEDIA: Final[dict[str, bool]] = {
    "image/*": True,
    "audio/*": True,
    "video/*": True,
    "application/pdf": True,
    "image/svg+xml": False,  # can carry script, and officers open these files
}
"""Content types taken as attachments (exact types win over ``major/*``)."""

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
SECURITY_HEADERS: Final[dict[str, str]] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
NO_STORE: Final[dict[str, str]] = {"Cache-Control": "no-store"}
"""The conversation must not survive in the browser's cache or back-forward history."""

STATIC_FILES: Final[dict[str, str]] = {
    "chat.js": "text/javascript; charset=utf-8",
    "chat.css": "text/css; charset=utf-8",
}

WORDING: Final[dict[str, str]] = {
    "file_too_big": (
        "“{name}” is too big to send here: each file can be up to 10 MB. Try a smaller "
        "photo or a shorter recording. Your message has not been sent yet."
    ),
    "too_much": (
        "That is too much to send at once: up to {files} files of 10 MB each. "
        "Your message has not been sent yet."
    ),
    "file_type": (
        "We can only take photos, sound recordings, videos and PDF files, and “{name}” is "
        "not one of those. Your message has not been sent yet."
    ),
    "too_long": (
        "That message is too long for one go (the limit is {limit} characters). "
        "Please send it in two parts."
    ),
    "empty": "Type a message, choose an answer or add a file first.",
    "refused": (
        "We could not send that because this page has been open too long. "
        "Reload the page and send it again."
    ),
    "unreadable": "We could not read that. Please try again.",
    "failed": (
        "Sorry, we could not take that message just now. Please try again in a minute. "
        "If you are in danger, call 999."
    ),
}
"""Everything the page says about a refused send, in one place."""


class _TooMuch(Exception):
    """The request body passed :data:`MAX_BODY_BYTES`."""


class _Forged(Exception):
    """The form token is missing or wrong."""


class _Refused(Exception):
    """A send the page must explain: the HTTP status, the reporter's wording, and what they
    typed, so that the page can give it back instead of losing it."""

    def __init__(self, status: int, message: str, kept_text: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kept_text = kept_text


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the conversation as the page shows it.

    Attributes:
        n: Its position in the session's conversation, from 0; never reused.
        author: ``you`` (the reporter) or ``bot``.
        text: What was said; for the bot, rendered by :func:`intake.render.render_buttons`.
        buttons: The options offered with it.
        multiple: Several options may be chosen (typed as numbers).
        urgent: Safety text.
        attachments: How each file sent with it is described, e.g. ``"door.jpg (photo)"``.
    """

    n: int
    author: Literal["you", "bot"]
    text: str
    buttons: tuple[Button, ...] = ()
    multiple: bool = False
    urgent: bool = False
    attachments: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The line for ``chat.js``."""
        return {
            "n": self.n,
            "from": self.author,
            "text": self.text,
            "options": [{"value": b.value, "label": b.label} for b in self.buttons],
            "multiple": self.multiple,
            "urgent": self.urgent,
            "attachments": list(self.attachments),
        }


@dataclass
class _PageLog:
    """The visible conversation of one session (not the record: that is the database's)."""

    lines: deque[Line] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    total: int = 0
    delivered: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    """Keys of outbox sends already shown, so a repeated send is shown once."""

    def add(
        self,
        author: Literal["you", "bot"],
        text: str,
        *,
        buttons: tuple[Button, ...] = (),
        multiple: bool = False,
        urgent: bool = False,
        attachments: tuple[str, ...] = (),
    ) -> Line:
        line = Line(self.total, author, text, buttons, multiple, urgent, attachments)
        self.lines.append(line)
        self.total += 1
        return line

    def add_replies(self, rendered: Iterable[RenderedMessage]) -> list[Line]:
        return [
            self.add("bot", m.text, buttons=m.buttons, multiple=m.multiple, urgent=m.urgent)
            for m in rendered
        ]

    def since(self, after: int) -> list[Line]:
        return [line for line in self.lines if line.n >= after]

    def choices(self) -> tuple[Button, ...]:
        """The options of the last line, when the bot said it: the only ones still open."""
        if self.lines and self.lines[-1].author == "bot":
            return self.lines[-1].buttons
        return ()

    def label_for(self, value: str) -> str:
        """The label of the newest option with this value, or the value itself."""
        for line in reversed(self.lines):
            for button in line.buttons:
                if button.value == value:
                    return button.label
        return value


class _PageLogs:
    """Page logs by session id, the least recently used forgotten past :data:`MAX_SESSIONS`."""

    def __init__(self) -> None:
        self._logs: OrderedDict[str, _PageLog] = OrderedDict()

    def get(self, session_id: str) -> _PageLog:
        page_log = self._logs.pop(session_id, None) or _PageLog()
        self._logs[session_id] = page_log
        while len(self._logs) > MAX_SESSIONS:
            self._logs.popitem(last=False)
        return page_log


@dataclass(frozen=True, slots=True)
class _Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class _Send:
    """A send as posted, checked and read."""

    text: str
    choice: str | None
    message_id: str | None
    uploads: tuple[_Upload, ...]


@dataclass(frozen=True, slots=True)
class _Assets:
    page: Template
    notice: Template
    static: dict[str, bytes]
    versions: dict[str, str]


class WebChatChannel:
    """The web chat channel: the ``/chat`` page, its form posts and its polling.

    Args:
        secret_key: Signs the session cookie and derives each session's form token.
        session_max_age_seconds: How long a session cookie lasts (renewed on each visit).
        cookie_secure: Send the cookie only over HTTPS (on in production).
        landlord: The landlord's name, shown on the page.
        handle: The intake service's entry point; called with ``inline=True``.
        clock: Now, as an aware UTC datetime (the ``received_at`` of each message).
    """

    channels: tuple[Channel, ...] = (Channel.WEB,)

    def __init__(
        self,
        *,
        secret_key: str,
        session_max_age_seconds: int,
        cookie_secure: bool,
        landlord: str,
        handle: InboundHandler,
        clock: Callable[[], datetime],
    ) -> None:
        if not secret_key:
            raise ValueError("web chat needs a secret key to sign its session cookie")
        if session_max_age_seconds < 1:
            raise ValueError("session_max_age_seconds must be at least 1")
        self._secret = secret_key.encode("utf-8")
        self._signer = URLSafeTimedSerializer(secret_key, salt=SESSION_SALT)
        self._max_age = session_max_age_seconds
        self._cookie_secure = cookie_secure
        self._landlord = landlord
        self._handle = handle
        self._clock = clock
        self._logs = _PageLogs()
        self._epoch = secrets.token_hex(4)
        """Told to the page, so that it notices a restart (line numbers start again)."""
        self._assets: _Assets | None = None
        self._assets_lock = asyncio.Lock()

    # --- the contract -------------------------------------------------------------------

    def router(self) -> APIRouter:
        """``GET /chat``, ``POST /chat/send``, ``POST /chat/exit``, ``GET /chat/messages``
        and ``GET /chat/static/{name}``."""
        router = APIRouter()
        routes: tuple[tuple[str, Callable[..., Any], str], ...] = (
            ("/chat", self._page, "GET"),
            ("/chat/send", self._send, "POST"),
            ("/chat/exit", self._exit, "POST"),
            ("/chat/messages", self._messages, "GET"),
            ("/chat/static/{name}", self._static, "GET"),
        )
        for path, endpoint, method in routes:
            router.add_api_route(
                path, endpoint, methods=[method], include_in_schema=False, response_model=None
            )
        return router

    async def start(self) -> None:
        """Nothing to start: the page is served by the app's HTTP server."""

    async def stop(self) -> None:
        """Nothing to release."""

    async def send(self, outgoing: Outgoing) -> SendResult:
        """Show replies on the reporter's page: there is no push, the page polls for them."""
        session_id = outgoing.recipient.removeprefix(SENDER_PREFIX)
        if not outgoing.recipient.startswith(SENDER_PREFIX) or not _valid_session_id(session_id):
            return SendResult(ok=False, error="not a web chat address")
        page_log = self._logs.get(session_id)
        if outgoing.key not in page_log.delivered:
            page_log.add_replies(render_buttons(outgoing.replies))
            page_log.delivered.append(outgoing.key)
        return SendResult(ok=True, external_id=outgoing.key)

    async def health(self) -> str:
        """Always "ok": the page needs nothing but this process."""
        return "ok"

    # --- routes -------------------------------------------------------------------------

    async def _page(self, request: Request) -> Response:
        session_id = self._session_id(request) or _new_session_id()
        return await self._render_page(session_id)

    async def _send(self, request: Request) -> Response:
        wants_json = _wants_json(request)
        session_id = await self._verified_session(request)
        if session_id is None:
            return await self._refuse(wants_json)
        try:
            posted = await _read_send(request, self._csrf_token(session_id))
        except _Forged as forged:
            log.warning("web chat: refused %s: %s", request.url.path, forged)
            return await self._refuse(wants_json)
        except _Refused as refused:
            return await self._error(session_id, wants_json, refused)
        page_log = self._logs.get(session_id)
        text = page_log.label_for(posted.choice) if posted.choice is not None else posted.text
        message = self._message(session_id, posted, text)
        try:
            handled = await self._handle(message, inline=True)
        except Exception:
            log.exception("web chat: the intake handler failed for %s", message.external_id)
            failure = _Refused(503, WORDING["failed"], posted.text)
            return await self._error(session_id, wants_json, failure)
        rendered = render_buttons(handled.replies)
        lines: list[Line] = []
        if handled.first_delivery:  # a repeat was shown the first time
            described = tuple(_describe(upload) for upload in posted.uploads)
            lines.append(page_log.add("you", text, attachments=described))
            lines += page_log.add_replies(rendered)
        log.info(
            "web chat: message %s from session %s: %d attachment(s), %d repl%s%s",
            message.external_id.split(":", 1)[-1],
            _tag(session_id),
            len(message.attachments),
            len(rendered),
            "y" if len(rendered) == 1 else "ies",
            "" if handled.first_delivery else " (a repeat: shown once)",
        )
        if not wants_json:
            return _secured(RedirectResponse("/chat#latest", status_code=303), NO_STORE)
        body = {
            "replies": [_reply_json(m) for m in rendered],
            "lines": [line.as_json() for line in lines],
            "next": page_log.total,
            "epoch": self._epoch,
        }
        return _secured(JSONResponse(body), NO_STORE)

    async def _exit(self, request: Request) -> Response:
        """Quick exit: tell the engine, clear the page log, and go to a neutral site.

        Leaving is never refused: a post that fails the checks still goes to the neutral
        site, it just does not reach the engine.
        """
        session_id = await self._verified_session(request)
        if session_id is not None:
            try:
                message_id = await _read_exit(request, self._csrf_token(session_id))
            except (_Forged, _Refused) as problem:
                log.warning("web chat: quick exit not passed on: %s", problem)
            else:
                await self._pass_on_exit(session_id, message_id)
        if _wants_json(request):
            return _secured(JSONResponse({"left": True}), NO_STORE)
        assets = await self._load_assets()
        html = assets.notice.render(
            title="Leaving", message="Leaving this site…", refresh_to=NEUTRAL_SITE,
            link_to=NEUTRAL_SITE, link_text="Continue", **self._common(assets),
        )
        return _secured(HTMLResponse(html), NO_STORE)

    async def _messages(self, request: Request) -> Response:
        session_id = self._session_id(request)
        try:
            after = max(0, int(request.query_params.get("after", "0")))
        except ValueError:
            after = 0
        if session_id is None:
            body: dict[str, Any] = {"lines": [], "next": 0, "epoch": self._epoch}
            return _secured(JSONResponse(body), NO_STORE)
        page_log = self._logs.get(session_id)
        body = {
            "lines": [line.as_json() for line in page_log.since(after)],
            "next": page_log.total,
            "epoch": self._epoch,
        }
        return _secured(JSONResponse(body), NO_STORE)

    async def _static(self, name: str) -> Response:
        assets = await self._load_assets()
        if name not in assets.static:
            return _secured(Response(status_code=404))
        return _secured(
            Response(assets.static[name], media_type=STATIC_FILES[name]),
            {"Cache-Control": "public, max-age=31536000, immutable"},
        )

    # --- sending ------------------------------------------------------------------------

    def _message(self, session_id: str, posted: _Send, text: str) -> InboundMessage:
        # Namespaced by session: another page's id can never fetch this session's replies.
        token = posted.message_id or str(uuid.uuid4())
        raw = {
            "text": posted.text,
            "choice": posted.choice,
            "message_id": posted.message_id,
            "files": [
                {"filename": u.filename, "content_type": u.content_type, "size": len(u.data)}
                for u in posted.uploads
            ],
        }
        return InboundMessage(
            channel=Channel.WEB,
            sender=SENDER_PREFIX + session_id,
            external_id=f"{session_id}:{token}",
            text=text,
            received_at=self._clock(),
            attachments=tuple(
                Attachment(u.content_type, len(u.data), filename=u.filename, data=u.data)
                for u in posted.uploads
            ),
            choice=posted.choice,
            raw=json.dumps(raw, ensure_ascii=False).encode("utf-8"),
        )

    async def _pass_on_exit(self, session_id: str, message_id: str | None) -> None:
        message = self._message(session_id, _Send(EXIT_WORD, None, message_id, ()), EXIT_WORD)
        try:
            await self._handle(message, inline=True)
        except Exception:
            log.exception("web chat: the intake handler failed for a quick exit")
        page_log = self._logs.get(session_id)
        page_log.lines.clear()
        log.info("web chat: quick exit from session %s", _tag(session_id))

    # --- sessions and checks ------------------------------------------------------------

    def _session_id(self, request: Request) -> str | None:
        cookie = request.cookies.get(COOKIE_NAME)
        if not cookie:
            return None
        try:
            value = self._signer.loads(cookie, max_age=self._max_age)
        except BadSignature:  # also expired
            return None
        return value if isinstance(value, str) and _valid_session_id(value) else None

    async def _verified_session(self, request: Request) -> str | None:
        """The session of a POST from our own page, or None (logged) for anything else."""
        reason = _cross_site(request)
        session_id = self._session_id(request)
        if reason is None and session_id is None:
            reason = "no valid session cookie"
        if reason is not None:
            log.warning("web chat: refused %s: %s", request.url.path, reason)
            return None
        return session_id

    def _csrf_token(self, session_id: str) -> str:
        return hmac.new(self._secret, b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()

    # --- responses ----------------------------------------------------------------------

    async def _refuse(self, wants_json: bool) -> Response:
        if wants_json:
            return _secured(JSONResponse({"error": WORDING["refused"]}, status_code=403), NO_STORE)
        assets = await self._load_assets()
        html = assets.notice.render(
            title="Not sent", message=WORDING["refused"], refresh_to=None,
            link_to="/chat", link_text="Back to the chat", **self._common(assets),
        )
        return _secured(HTMLResponse(html, status_code=403), NO_STORE)

    async def _error(self, session_id: str, wants_json: bool, refused: _Refused) -> Response:
        if wants_json:
            body = {"error": refused.message}
            return _secured(JSONResponse(body, status_code=refused.status), NO_STORE)
        return await self._render_page(
            session_id, status=refused.status, notice=refused.message,
            kept_text=refused.kept_text,
        )

    async def _render_page(
        self, session_id: str, *, status: int = 200, notice: str | None = None,
        kept_text: str = "",
    ) -> Response:
        assets = await self._load_assets()
        page_log = self._logs.get(session_id)
        html = assets.page.render(
            lines=list(page_log.lines),
            next=page_log.total,
            epoch=self._epoch,
            max_file_bytes=MAX_FILE_BYTES,
            choices=page_log.choices(),
            csrf_token=self._csrf_token(session_id),
            send_id=str(uuid.uuid4()),
            choice_id=str(uuid.uuid4()),
            notice=notice,
            kept_text=kept_text,
            neutral_site=NEUTRAL_SITE,
            poll_seconds=POLL_SECONDS,
            max_text=MAX_TEXT_CHARS,
            accept=",".join(t for t, ok in ALLOWED_MEDIA.items() if ok),
            **self._common(assets),
        )
        response = _secured(HTMLResponse(html, status_code=status), NO_STORE)
        response.set_cookie(
            COOKIE_NAME,
            self._signer.dumps(session_id),
            max_age=self._max_age,
            path=COOKIE_PATH,
            secure=self._cookie_secure,
            httponly=True,
            samesite="lax",
        )
        return response

    def _common(self, assets: _Assets) -> dict[str, Any]:
        return {"landlord": self._landlord, "versions": assets.versions}

    async def _load_assets(self) -> _Assets:
        if self._assets is None:
            async with self._assets_lock:
                if self._assets is None:
                    self._assets = await asyncio.to_thread(_read_assets)
        return self._assets


# --- reading a post ---------------------------------------------------------------------


async def _read_send(request: Request, expected_token: str) -> _Send:
    """Read and check one posted send: the token first, then text, choice and files.

    Raises:
        _Forged: the token is missing or wrong (nothing else is looked at).
        _Refused: too big, a file of the wrong kind, too long, empty or unreadable.
    """
    form = await _read_checked_form(request, expected_token)
    try:
        return await _checked_send(form)
    finally:
        await form.close()


async def _read_exit(request: Request, expected_token: str) -> str | None:
    """Check a quick-exit post's token; its idempotency token, if any."""
    form = await _read_checked_form(request, expected_token)
    try:
        return _message_id(_text(form, "message_id"))
    finally:
        await form.close()


async def _read_checked_form(request: Request, expected_token: str) -> FormData:
    """The posted form, once its token is right (a header token is checked before reading)."""
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        _check_token(header, expected_token)
    form = await _read_form(request)
    if header is None:
        try:
            _check_token(_text(form, CSRF_FIELD), expected_token)
        except BaseException:
            await form.close()
            raise
    return form


async def _read_form(request: Request) -> FormData:
    """The posted form, read no further than :data:`MAX_BODY_BYTES`."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise _Refused(413, WORDING["too_much"].format(files=MAX_FILES))
    limited = Request(request.scope, _limited_receive(request))
    try:
        return await limited.form(max_files=MAX_FILES * 2, max_fields=20)
    except _TooMuch:
        raise _Refused(413, WORDING["too_much"].format(files=MAX_FILES)) from None
    except StarletteHTTPException:
        raise _Refused(400, WORDING["unreadable"]) from None


def _check_token(given: str | None, expected: str) -> None:
    if not given:
        raise _Forged("no form token")
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise _Forged("wrong form token")


async def _checked_send(form: FormData) -> _Send:
    text = (_text(form, "text") or "").strip()
    choice = (_text(form, "choice") or "").strip() or None
    try:
        if len(text) > MAX_TEXT_CHARS:
            raise _Refused(413, WORDING["too_long"].format(limit=f"{MAX_TEXT_CHARS:,}"))
        if choice is not None and len(choice) > MAX_CHOICE_CHARS:
            raise _Refused(400, WORDING["unreadable"])
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        files = [f for f in files if f.filename or f.size]
        if len(files) > MAX_FILES:
            raise _Refused(413, WORDING["too_much"].format(files=MAX_FILES))
        uploads = tuple([await _upload(f) for f in files])
        if not text and choice is None and not uploads:
            raise _Refused(400, WORDING["empty"])
    except _Refused as refused:
        refused.kept_text = text
        raise
    return _Send(text, choice, _message_id(_text(form, "message_id")), uploads)


async def _upload(file: UploadFile) -> _Upload:
    name = PurePath((file.filename or "file").replace("\\", "/")).name[:255] or "file"
    content_type = (file.content_type or "").split(";", 1)[0].strip().lower()
    allowed = ALLOWED_MEDIA.get(content_type, ALLOWED_MEDIA.get(content_type.split("/")[0] + "/*"))
    if not allowed:
        raise _Refused(415, WORDING["file_type"].format(name=name))
    if file.size is not None and file.size > MAX_FILE_BYTES:
        raise _Refused(413, WORDING["file_too_big"].format(name=name))
    data = await file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise _Refused(413, WORDING["file_too_big"].format(name=name))
    return _Upload(name, content_type, data)


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if value is not None and not isinstance(value, str):
        raise _Refused(400, WORDING["unreadable"])
    return value


def _message_id(value: str | None) -> str | None:
    """The page's idempotency token, if it is a UUID."""
    if not value:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _limited_receive(request: Request) -> Callable[[], Any]:
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > MAX_BODY_BYTES:
            raise _TooMuch
        return message

    return receive


def _cross_site(request: Request) -> str | None:
    """Why a POST does not look like it came from our own page, or None if it does.

    With ``Referrer-Policy: no-referrer`` browsers send ``Origin: null`` even on same-origin
    form posts, so ``Sec-Fetch-Site`` (which scripts cannot set) is the usual proof; an
    ``Origin`` or ``Referer`` that is present must name this host.
    """
    host = request.headers.get("host", "").lower()
    site = request.headers.get("sec-fetch-site")
    vouched = False
    if site is not None:
        if site != "same-origin":
            return f"Sec-Fetch-Site is {site!r}"
        vouched = True
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value and value != "null":
            if urlsplit(value).netloc.lower() != host:
                return f"{header.title()} does not match Host {host!r}"
            vouched = True
    return None if vouched else "no Origin, Referer or Sec-Fetch-Site from this host"


# --- small pieces -----------------------------------------------------------------------

_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{22,64}")


def _new_session_id() -> str:
    return secrets.token_urlsafe(24)


def _valid_session_id(value: str) -> bool:
    return _SESSION_ID.fullmatch(value) is not None


def _tag(session_id: str) -> str:
    """A short, one-way tag for log lines: enough to follow a session, not to take it over."""
    return hashlib.sha256(session_id.encode()).hexdigest()[:10]


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _describe(upload: _Upload) -> str:
    kind = Attachment(upload.content_type, len(upload.data)).kind
    return f"{upload.filename} ({kind})"


def _reply_json(message: RenderedMessage) -> dict[str, Any]:
    return {
        "text": message.text,
        "options": [{"value": b.value, "label": b.label} for b in message.buttons],
        "multiple": message.multiple,
        "urgent": message.urgent,
    }


def _secured(response: Response, extra: dict[str, str] | None = None) -> Response:
    response.headers.update(SECURITY_HEADERS)
    if extra:
        response.headers.update(extra)
    return response


def _read_assets() -> _Assets:
    """Templates and static files, read once (in a thread: it is file I/O)."""
    environment = Environment(
        loader=FileSystemLoader(WEB_DIR / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    static = {name: (WEB_DIR / "static" / name).read_bytes() for name in STATIC_FILES}
    return _Assets(
        page=environment.get_template("chat.html"),
        notice=environment.get_template("notice.html"),
        static=static,
        versions={name: hashlib.sha256(data).hexdigest()[:12] for name, data in static.items()},
    )
