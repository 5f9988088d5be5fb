"""A stand-in Telegram Bot API, so the real library runs without a bot account.

With no token configured the Telegram adapter points python-telegram-bot at these routes
(``/sandbox/telegram/bot<token>/<method>`` and ``/sandbox/telegram/file/bot<token>/<path>``)
served by our own HTTP app: the library's whole request path runs, nothing leaves the machine,
and what the bot "sent" is kept in :attr:`TelegramSandbox.sent` (managers see it in the officer
console, ``/console/sandbox``, behind a session; nothing lists it here). It answers the methods
the adapter uses, the way Telegram does (``{"ok": true, "result": ...}``, or ``ok: false``
with an ``error_code`` and ``description``), keeps updates for ``getUpdates`` until they are
confirmed by a higher offset, and can be told to fail, so tests exercise real error handling.

These routes exist only in sandbox mode, where nobody real can write to the bot; each checks
the (public, fixed) sandbox bot token the way Telegram checks a real one.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

log = logging.getLogger(__name__)

SANDBOX_TOKEN = "123456:SANDBOX"  # noqa: S105 (public by design)
"""The bot token the adapter uses in sandbox mode (the stand-in accepts no other)."""

SANDBOX_SECRET = "sandbox-secret"  # noqa: S105 (public by design)
"""The webhook secret token the adapter expects in sandbox mode."""

PREFIX = "/sandbox/telegram"
"""Where the stand-in's routes live."""

LONG_POLL_CAP = 1.0
"""Longest a ``getUpdates`` call is held open here, whatever timeout it asks for, so that a
held request never delays shutting the HTTP server down."""

BOT_USER: dict[str, Any] = {
    "id": 123456,
    "is_bot": True,
    "first_name": "ASB reports (sandbox)",
    "username": "asb_reports_sandbox_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}

Params = dict[str, Any]
Method = Callable[["TelegramSandbox", Params], Awaitable[JSONResponse]]


@dataclass(frozen=True)
class _Failure:
    error_code: int
    description: str
    parameters: dict[str, Any] | None


def chat_hash(chat_id: object, key: str) -> str:
    """A short keyed hash of a chat id, so logs can follow a chat without naming it.

    Chat ids are small integers: a plain hash could be reversed by trying them all, so the
    bot token is the key.
    """
    digest = hmac.new(key.encode(), str(chat_id).encode(), hashlib.sha256).hexdigest()
    return digest[:10]


class TelegramSandbox:
    """The stand-in Bot API: what it was sent, queued updates, files, and planned failures.

    Args:
        token: The only bot token it accepts; others get 401 Unauthorized, as on Telegram.
    """

    def __init__(self, token: str = SANDBOX_TOKEN) -> None:
        self.token = token
        self.sent: list[dict[str, Any]] = []
        """Every message sent: message_id, chat_id, text, reply_markup, date (whole seconds,
        as Telegram gives it) and accepted_at (an aware datetime, to order it among others)."""
        self.callback_answers: list[dict[str, Any]] = []
        """Every answerCallbackQuery call: callback_query_id and any text."""
        self.webhook: dict[str, Any] | None = None
        """The last setWebhook parameters (secret token included), or None once deleted."""
        self._updates: list[dict[str, Any]] = []
        self._arrived: asyncio.Event | None = None
        self._files: dict[str, tuple[str, bytes]] = {}
        self._blocked: set[str] = set()
        self._failures: dict[str, list[_Failure]] = {}
        self._next_message_id = 1

    # --- what tests and the console use -------------------------------------------------

    def queue_update(self, update: Mapping[str, Any]) -> None:
        """Queue an update for ``getUpdates`` (polling mode), as if a user had written."""
        self._updates.append(dict(update))
        if self._arrived is not None:
            self._arrived.set()

    def add_file(self, file_id: str, data: bytes, *, file_path: str | None = None) -> None:
        """Make a file downloadable through ``getFile`` and the file route."""
        self._files[file_id] = (file_path or f"files/{file_id}", data)

    def block(self, chat_id: int | str) -> None:
        """Behave as if this user blocked the bot: sending to them gets 403 Forbidden."""
        self._blocked.add(str(chat_id))

    def fail_next(
        self,
        method: str,
        *,
        error_code: int,
        description: str,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next call of ``method`` with this error (e.g. 429 with retry_after)."""
        self._failures.setdefault(method, []).append(
            _Failure(error_code, description, parameters)
        )

    def router(self) -> APIRouter:
        """The Bot API routes and the file route (what the library calls)."""
        router = APIRouter(prefix=PREFIX, include_in_schema=False)
        router.add_api_route("/bot{token}/{method}", self._api, methods=["GET", "POST"])
        router.add_api_route("/file/bot{token}/{file_path:path}", self._file, methods=["GET"])
        return router

    # --- routes ---------------------------------------------------------------------------

    async def _api(self, token: str, method: str, request: Request) -> JSONResponse:
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            return _error(401, "Unauthorized")
        implementation = _METHODS.get(method)
        if implementation is None:
            return _error(404, "Not Found")
        planned = self._failures.get(method)
        if planned:
            failure = planned.pop(0)
            return _error(failure.error_code, failure.description, failure.parameters)
        return await implementation(self, await _parameters(request))

    async def _file(self, token: str, file_path: str) -> Response:
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            return _error(401, "Unauthorized")
        for path, data in self._files.values():
            if path == file_path:
                return Response(data, media_type="application/octet-stream")
        return _error(404, "Not Found")

    # --- Bot API methods ------------------------------------------------------------------

    async def _get_me(self, params: Params) -> JSONResponse:
        return _ok(BOT_USER)

    async def _send_message(self, params: Params) -> JSONResponse:
        chat_id, text = params.get("chat_id"), params.get("text")
        if chat_id in (None, "") or not text:
            return _error(400, "Bad Request: message text is empty")
        if str(chat_id) in self._blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        message_id = self._next_message_id
        self._next_message_id += 1
        date = int(time.time())
        self.sent.append(
            {"message_id": message_id, "chat_id": str(chat_id), "text": text,
             "reply_markup": markup, "date": date, "accepted_at": datetime.now(UTC)}
        )
        buttons = sum(len(row) for row in (markup or {}).get("inline_keyboard", []))
        log.info(
            "telegram sandbox: sent message %d to chat %s (%d characters, %d buttons)",
            message_id, chat_hash(chat_id, self.token), len(str(text)), buttons,
        )
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": BOT_USER,
            "chat": {"id": _chat_id(chat_id), "type": "private"},
            "date": date,
            "text": text,
        }
        if markup:
            message["reply_markup"] = markup
        return _ok(message)

    async def _answer_callback_query(self, params: Params) -> JSONResponse:
        query_id = params.get("callback_query_id")
        if not query_id:
            return _error(400, "Bad Request: query is too old or query ID is invalid")
        self.callback_answers.append({"callback_query_id": str(query_id),
                                      "text": params.get("text")})
        log.info("telegram sandbox: answered callback query")
        return _ok(True)

    async def _get_file(self, params: Params) -> JSONResponse:
        file_id = str(params.get("file_id", ""))
        if file_id not in self._files:
            return _error(400, "Bad Request: invalid file_id")
        path, data = self._files[file_id]
        return _ok({"file_id": file_id, "file_unique_id": "u" + file_id[-12:],
                    "file_size": len(data), "file_path": path})

    async def _set_webhook(self, params: Params) -> JSONResponse:
        self.webhook = params
        log.info("telegram sandbox: webhook set")
        return _ok(True)

    async def _delete_webhook(self, params: Params) -> JSONResponse:
        self.webhook = None
        return _ok(True)

    async def _get_updates(self, params: Params) -> JSONResponse:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if offset:
            self._updates = [u for u in self._updates if int(u["update_id"]) >= offset]
        if not self._updates and timeout > 0:
            self._arrived = asyncio.Event()
            try:
                await asyncio.wait_for(self._arrived.wait(), min(timeout, LONG_POLL_CAP))
            except TimeoutError:
                pass
            finally:
                self._arrived = None
        return _ok(self._updates[:limit])


_METHODS: dict[str, Method] = {
    "getMe": TelegramSandbox._get_me,
    "sendMessage": TelegramSandbox._send_message,
    "answerCallbackQuery": TelegramSandbox._answer_callback_query,
    "getFile": TelegramSandbox._get_file,
    "setWebhook": TelegramSandbox._set_webhook,
    "deleteWebhook": TelegramSandbox._delete_webhook,
    "getUpdates": TelegramSandbox._get_updates,
}
"""The Bot API methods the stand-in answers, by the name in the URL."""


async def _parameters(request: Request) -> Params:
    """Bot API parameters from the query string, a JSON body or a form, as Telegram takes."""
    params: Params = dict(request.query_params)
    if request.method != "POST":
        return params
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
        return params
    form = await request.form()
    try:
        params.update({key: value for key, value in form.items() if isinstance(value, str)})
    finally:
        await form.close()
    return params


def _chat_id(value: object) -> int | str:
    text = str(value)
    return int(text) if text.lstrip("-").isdigit() else text


def _ok(result: object) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def _error(code: int, description: str, parameters: dict[str, Any] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return JSONResponse(body, status_code=code)
