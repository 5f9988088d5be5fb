"""The Telegram channel: a bot that takes reports in private chats.

python-telegram-bot is used as a library on our own event loop (``updater(None)``): it holds
the Bot API connections and parses updates, but it never owns the loop, the dispatch or the
conversation state. Updates reach us through our own webhook route, which checks Telegram's
secret token, or, in polling mode, through a small ``getUpdates`` loop of ours; both feed the
same path, which turns an update into an :class:`~intake.messages.InboundMessage` and awaits
the intake handler, so an update is acknowledged only once the service has stored it.
Replies go out through the outbox dispatcher, which calls :meth:`TelegramChannel.send`.

Without a token the adapter runs in sandbox mode against the stand-in Bot API in
:mod:`channels.telegram_sandbox`, served from this adapter's own router.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import UpdateType
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application, ApplicationBuilder
from telegram.warnings import PTBDeprecationWarning

from channels.base import InboundHandler, Outgoing, SendResult
from channels.telegram_sandbox import (
    PREFIX as SANDBOX_PREFIX,
)
from channels.telegram_sandbox import (
    SANDBOX_SECRET,
    SANDBOX_TOKEN,
    TelegramSandbox,
    chat_hash,
)
from intake.messages import Attachment, Channel, InboundMessage
from intake.render import RenderedMessage, render_buttons

log = logging.getLogger(__name__)

TELEGRAM_API = "https://api.telegram.org"
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
MAX_UPDATE_BYTES = 1_000_000
"""A webhook body larger than this is refused (413): real updates are a few kilobytes."""
CALLBACK_DATA_MAX_BYTES = 64
"""Telegram's limit on a button's callback data."""

ALLOWED_UPDATES = (UpdateType.MESSAGE, UpdateType.CALLBACK_QUERY)
"""What we ask Telegram to deliver; anything else that still arrives is ignored."""

COMMANDS: dict[str, str] = {"start": "start", "help": "help"}
"""Bot commands (``/start``, ``/help@our_bot``) and the engine's command word for each."""

MEDIA: tuple[tuple[str, str], ...] = (
    ("photo", "image/jpeg"),
    ("voice", "audio/ogg"),
    ("audio", "audio/mpeg"),
    ("video", "video/mp4"),
    ("video_note", "video/mp4"),
    ("document", "application/octet-stream"),
)
"""Message fields that carry a file, and the content type when Telegram gives none
(photos are always JPEG; voice notes are Opus in OGG)."""

Mode = Literal["webhook", "polling"]


class _TryAgain(Exception):
    """A temporary failure before the update was handed on: Telegram should deliver it again."""


@dataclass(frozen=True)
class _Outcome:
    """What the adapter did with an update: hand it on (with a callback to answer) or not."""

    message: InboundMessage | None
    callback: CallbackQuery | None = None
    ignored: str | None = None


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TelegramChannel:
    """The Telegram bot as a channel adapter (see :class:`channels.base.ChannelAdapter`).

    Args:
        token: The bot token from BotFather; None runs the sandbox (stand-in Bot API).
        mode: ``"webhook"`` (Telegram posts to ``/webhooks/telegram``) or ``"polling"``
            (we long-poll ``getUpdates``; for machines Telegram cannot reach).
        webhook_secret: Telegram sends it in ``X-Telegram-Bot-Api-Secret-Token``; required
            for webhook mode with a real token. The sandbox uses its own.
        api_base_url: A Bot API server other than Telegram's (e.g. a local one), as its root
            URL without ``/bot``; None means Telegram, or the stand-in in sandbox mode.
        public_base_url: Where this service is reachable, e.g. ``https://asb.example.org``.
        handle: The intake service's entry point.
        max_file_bytes: Larger photos, recordings and documents are noted but not fetched.
        poll_timeout: Seconds one ``getUpdates`` long poll may wait (polling mode).
        clock: Gives ``received_at``; injectable for tests.

    Raises:
        ValueError: For an unknown mode, or webhook mode with a real token and no secret.
    """

    channels: tuple[Channel, ...] = (Channel.TELEGRAM,)

    def __init__(
        self,
        *,
        token: str | None,
        mode: Mode,
        webhook_secret: str | None,
        api_base_url: str | None,
        public_base_url: str,
        handle: InboundHandler,
        max_file_bytes: int = 20_000_000,
        poll_timeout: float = 30.0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if mode not in ("webhook", "polling"):
            raise ValueError(f"telegram mode must be webhook or polling, not {mode!r}")
        self.public_base_url = public_base_url.rstrip("/")
        self.mode: Mode = mode
        self.sandbox: TelegramSandbox | None = None
        """The stand-in Bot API, in sandbox mode (tests queue updates and files on it)."""
        if token is None:
            self.sandbox = TelegramSandbox(SANDBOX_TOKEN)
            self._token = SANDBOX_TOKEN
            self._secret: str | None = SANDBOX_SECRET
            root = api_base_url or self.public_base_url + SANDBOX_PREFIX
        else:
            if mode == "webhook" and not webhook_secret:
                raise ValueError("telegram webhook mode needs a webhook secret")
            self._token = token
            self._secret = webhook_secret
            root = api_base_url or TELEGRAM_API
        self._api_root = root.rstrip("/")
        self._handle = handle
        self._max_file_bytes = max_file_bytes
        self._poll_timeout = poll_timeout
        self._clock = clock
        self._app: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._polling_trouble: str | None = None
        self._router: APIRouter | None = None

    # --- the contract ---------------------------------------------------------------------

    def router(self) -> APIRouter:
        """``POST /webhooks/telegram``, plus the stand-in Bot API in sandbox mode."""
        if self._router is None:
            router = APIRouter(include_in_schema=False)
            router.add_api_route(WEBHOOK_PATH, self._webhook, methods=["POST"])
            if self.sandbox is not None:
                router.include_router(self.sandbox.router())
            self._router = router
        return self._router

    async def start(self) -> None:
        """Connect the bot (``getMe``) and start receiving updates.

        In sandbox mode the Bot API is our own HTTP app, so call this once it is serving.

        Raises:
            telegram.error.TelegramError: When the Bot API refuses the token or cannot be
                reached: a bot that cannot start should stop the service starting.
        """
        app = (
            ApplicationBuilder()
            .token(self._token)
            .base_url(self._api_root + "/bot")
            .base_file_url(self._api_root + "/file/bot")
            .updater(None)
            .job_queue(None)
            .build()
        )
        await app.initialize()
        try:
            await app.start()
            if self.mode == "webhook":
                await app.bot.set_webhook(
                    url=self.public_base_url + WEBHOOK_PATH,
                    secret_token=self._secret,
                    allowed_updates=list(ALLOWED_UPDATES),
                )
            else:
                await app.bot.delete_webhook()
        except BaseException:
            if app.running:
                await app.stop()
            await app.shutdown()
            raise
        self._app = app
        if self.mode == "polling":
            self._poller = asyncio.create_task(self._poll(), name="telegram getUpdates")
        log.info("telegram: started in %s mode%s", self.mode,
                 " against the sandbox Bot API" if self.sandbox else "")

    async def stop(self) -> None:
        """Stop polling and close the bot's connections."""
        if self._poller is not None:
            self._poller.cancel()
            try:
                await self._poller
            except asyncio.CancelledError:
                pass
            self._poller = None
        if self._app is not None:
            app, self._app = self._app, None
            if app.running:
                await app.stop()
            await app.shutdown()

    async def send(self, outgoing: Outgoing) -> SendResult:
        """Send each reply as a message with one inline button per option, one per row.

        Messages go in order, so a retry after a failure part-way may repeat the earlier
        ones. Option values longer than Telegram's 64-byte callback data are refused before
        anything is sent.

        Returns:
            ok with the last message's id; retryable for flood control, timeouts and network
            errors; opted_out when the user has blocked the bot; otherwise a permanent failure.
        """
        if self._app is None:
            return SendResult(ok=False, retryable=True, error="telegram adapter not started")
        messages = [m for m in render_buttons(outgoing.replies) if m.text or m.buttons]
        for message in messages:
            for button in message.buttons:
                if len(button.value.encode("utf-8")) > CALLBACK_DATA_MAX_BYTES:
                    log.error("telegram: option value over %d bytes: %r",
                              CALLBACK_DATA_MAX_BYTES, button.value)
                    return SendResult(ok=False, error=f"option value {button.value!r} is "
                                      f"over Telegram's {CALLBACK_DATA_MAX_BYTES}-byte limit")
        last: str | None = None
        for message in messages:
            try:
                sent = await self._app.bot.send_message(
                    chat_id=outgoing.recipient, text=message.text,
                    reply_markup=_keyboard(message),
                )
            except TelegramError as exc:
                return _failure(exc, outgoing, self._token)
            last = str(sent.message_id)
        return SendResult(ok=True, external_id=last)

    async def health(self) -> str:
        """"sandbox" or "ok" while running; "down: why" before start or while polling fails."""
        if self._app is None or not self._app.running:
            return "down: not started"
        if self._polling_trouble is not None:
            return f"down: {self._polling_trouble}"
        return "sandbox" if self.sandbox is not None else "ok"

    # --- receiving ------------------------------------------------------------------------

    async def _webhook(self, request: Request) -> Response:
        """Verify, parse, hand on; 200 only after the handler has stored the update."""
        given = request.headers.get(SECRET_HEADER, "")
        expected = self._secret or ""
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            log.warning("telegram webhook: %s secret token from %s; refused",
                        "wrong" if given else "missing",
                        request.client.host if request.client else "unknown")
            return Response(status_code=403)
        body = await request.body()
        if len(body) > MAX_UPDATE_BYTES:
            log.warning("telegram webhook: body of %d bytes refused", len(body))
            return Response(status_code=413)
        update = self._parse(body)
        if update is None:
            return Response(status_code=400)
        try:
            await self._receive(update, body)
        except _TryAgain as exc:
            log.warning("telegram webhook: update %d not taken, Telegram will retry: %s",
                        update.update_id, exc)
            return Response(status_code=503)
        return Response(status_code=200)

    def _parse(self, body: bytes) -> Update | None:
        """The update in a webhook body, or None (logged) when it is not one."""
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            log.warning("telegram webhook: body is not JSON (%s); refused", exc)
            return None
        update_id = payload.get("update_id") if isinstance(payload, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            log.warning("telegram webhook: JSON without an integer update_id; refused")
            return None
        try:
            return Update.de_json(payload, self._bot())
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            log.warning("telegram webhook: update %d is malformed (%s); refused",
                        update_id, type(exc).__name__)
            return None

    async def _receive(self, update: Update, raw: bytes) -> None:
        """The one path every update takes, from the webhook or from polling."""
        outcome = await self._translate(update, raw)
        if outcome.message is None:
            log.info("telegram: update %d ignored: %s", update.update_id, outcome.ignored)
            return
        message = outcome.message
        await self._handle(message)
        log.info("telegram: update %d from chat %s handed on (%d attachments%s)",
                 update.update_id, chat_hash(message.sender, self._token),
                 len(message.attachments), ", button" if message.choice else "")
        if outcome.callback is not None:
            try:
                await outcome.callback.answer()
            except TelegramError as exc:
                # The press is stored; only the button's spinner is left turning.
                log.warning("telegram: could not answer callback query of update %d: %s",
                            update.update_id, exc)

    async def _translate(self, update: Update, raw: bytes) -> _Outcome:
        if update.message is not None:
            return await self._from_message(update, update.message, raw)
        if update.callback_query is not None:
            return self._from_callback(update, update.callback_query, raw)
        kind = next((k.value for k in UpdateType if getattr(update, k.value, None) is not None),
                    "empty update")
        return _Outcome(None, ignored=kind)

    async def _from_message(self, update: Update, message: Message, raw: bytes) -> _Outcome:
        if message.chat.type != "private":
            return _Outcome(None, ignored=f"message in a {message.chat.type} chat")
        text = message.text if message.text is not None else (message.caption or "")
        text = _command_word(text)
        attachments = await self._attachments(message)
        if not text and not attachments:
            return _Outcome(None, ignored="message without text or media")
        chat_id = str(message.chat.id)
        return _Outcome(InboundMessage(
            channel=Channel.TELEGRAM,
            sender=chat_id,
            external_id=str(update.update_id),
            text=text,
            received_at=self._clock(),
            attachments=attachments,
            raw=raw,
            reply_context={"chat_id": chat_id},
        ))

    def _from_callback(self, update: Update, query: CallbackQuery, raw: bytes) -> _Outcome:
        pressed = query.message
        if pressed is None or query.data is None:
            return _Outcome(None, ignored="callback query without a message or data")
        if pressed.chat.type != "private":
            return _Outcome(None, ignored=f"callback query in a {pressed.chat.type} chat")
        chat_id = str(pressed.chat.id)
        return _Outcome(
            InboundMessage(
                channel=Channel.TELEGRAM,
                sender=chat_id,
                external_id=str(update.update_id),
                text=_button_label(pressed, query.data),
                received_at=self._clock(),
                choice=query.data,
                raw=raw,
                reply_context={"chat_id": chat_id},
            ),
            callback=query,
        )

    async def _attachments(self, message: Message) -> tuple[Attachment, ...]:
        found: list[Attachment] = []
        for field, default_type in MEDIA:
            media: Any = getattr(message, field)
            if not media:
                continue
            if field == "photo":
                media = max(media, key=lambda size: size.width * size.height)
            found.append(await self._download(
                media, getattr(media, "mime_type", None) or default_type,
                getattr(media, "file_name", None),
            ))
        return tuple(found)

    async def _download(self, media: Any, content_type: str, filename: str | None) -> Attachment:
        """Fetch a file through the Bot API, unless it is over the size limit."""
        declared: int = media.file_size or 0
        if declared > self._max_file_bytes:
            log.info("telegram: %s of %d bytes not fetched (limit %d)",
                     content_type, declared, self._max_file_bytes)
            return Attachment(content_type, declared, filename)
        try:
            file = await self._bot().get_file(media.file_id)
            if (file.file_size or 0) > self._max_file_bytes:
                log.info("telegram: %s of %d bytes not fetched (limit %d)",
                         content_type, file.file_size, self._max_file_bytes)
                return Attachment(content_type, file.file_size or 0, filename)
            data = bytes(await file.download_as_bytearray())
        except (RetryAfter, TimedOut) as exc:
            raise _TryAgain(f"file download: {exc}") from exc
        except BadRequest as exc:
            log.warning("telegram: %s could not be fetched: %s", content_type, exc)
            return Attachment(content_type, declared, filename)
        except NetworkError as exc:
            raise _TryAgain(f"file download: {exc}") from exc
        except TelegramError as exc:
            log.warning("telegram: %s could not be fetched: %s", content_type, exc)
            return Attachment(content_type, declared, filename)
        if len(data) > self._max_file_bytes:
            log.info("telegram: %s of %d bytes dropped (limit %d)",
                     content_type, len(data), self._max_file_bytes)
            return Attachment(content_type, len(data), filename)
        return Attachment(content_type, len(data), filename, data)

    async def _poll(self) -> None:
        """Long-poll ``getUpdates``, feeding each update to :meth:`_receive` in order.

        An update is confirmed (the offset moves past it) only after the handler stored it;
        when anything fails the same updates are fetched again after a pause.
        """
        offset: int | None = None
        failures = 0
        while True:
            try:
                updates = await self._bot().get_updates(
                    offset=offset, timeout=timedelta(seconds=self._poll_timeout),
                    allowed_updates=list(ALLOWED_UPDATES),
                )
                for update in updates:
                    await self._receive(update, update.to_json().encode("utf-8"))
                    offset = update.update_id + 1
            except RetryAfter as exc:
                self._polling_trouble = "getUpdates flood control"
                await asyncio.sleep(_retry_seconds(exc))
                continue
            except (TelegramError, _TryAgain) as exc:
                failures += 1
                self._polling_trouble = f"getUpdates failing ({type(exc).__name__})"
                log.warning("telegram polling: %s; trying again", exc)
            except Exception:
                # The update stays unconfirmed and is fetched again: nothing is lost.
                failures += 1
                log.exception("telegram polling: handing on an update failed; trying again")
            else:
                failures = 0
                self._polling_trouble = None
                continue
            await asyncio.sleep(min(30.0, 0.5 * 2 ** min(failures, 6)))

    def _bot(self) -> Bot:
        if self._app is None:
            raise RuntimeError("the telegram adapter is not started")
        bot: Bot = self._app.bot
        return bot


def _command_word(text: str) -> str:
    """``/start``, ``/start payload`` or ``/help@our_bot`` as the engine's command word."""
    if not text.startswith("/"):
        return text
    command = text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if text[1:] else ""
    return COMMANDS.get(command, text)


def _button_label(message: Any, data: str) -> str:
    """The label of the pressed button, found in the message's keyboard; else the data."""
    markup = message.reply_markup if isinstance(message, Message) else None
    for row in markup.inline_keyboard if markup is not None else ():
        for button in row:
            if button.callback_data == data:
                return str(button.text)
    return data


def _keyboard(message: RenderedMessage) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    rows: Sequence[Sequence[InlineKeyboardButton]] = [
        [InlineKeyboardButton(button.label, callback_data=button.value)]
        for button in message.buttons
    ]
    return InlineKeyboardMarkup(rows)


def _retry_seconds(exc: RetryAfter) -> float:
    # PTB 22 warns on reading retry_after as an int; we accept either form.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


_FAILURES: tuple[tuple[type[TelegramError], bool, bool], ...] = (
    # error, retryable, opted out
    (Forbidden, False, True),
    (RetryAfter, True, False),
    (BadRequest, False, False),
    (TimedOut, True, False),
    (NetworkError, True, False),
    (TelegramError, False, False),
)
"""What each Bot API error means for the outbox, most specific first (BadRequest and
TimedOut are kinds of NetworkError)."""


def _failure(exc: TelegramError, outgoing: Outgoing, key: str) -> SendResult:
    retryable, opted_out = next((r, o) for kind, r, o in _FAILURES if isinstance(exc, kind))
    log.warning("telegram: sending %s to chat %s failed: %s: %s", outgoing.key,
                chat_hash(outgoing.recipient, key), type(exc).__name__, exc)
    return SendResult(ok=False, retryable=retryable, opted_out=opted_out,
                      error=f"{type(exc).__name__}: {exc}")
