"""SMS and WhatsApp through Twilio: webhooks in, the SDK's async client out.

Inbound, Twilio posts a form to ``/webhooks/twilio/messages``. The adapter checks
``X-Twilio-Signature`` against the URL Twilio was given (the configured public URL, so it
holds behind a proxy that ends TLS), fetches any media with the account's Basic auth, hands one
:class:`~intake.messages.InboundMessage` to the intake handler and answers with TwiML carrying
the handler's replies. Redeliveries of a MessageSid are the handler's to deduplicate: whatever
it returns is answered again. Delivery callbacks arrive at ``/webhooks/twilio/status``.

Outbound, :meth:`TwilioChannel.send` uses ``messages.create_async`` on the real SDK. Without an
account (sandbox) the SDK talks to :class:`~channels.twilio_sandbox.TwilioSandbox`, served by
this adapter under ``/sandbox/twilio``.

Phone numbers and message text never reach INFO logs: numbers are cut to their last three
digits, bodies to their length.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import ImmutableMultiDict
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from channels.base import DeliveryHandler, InboundHandler, Outgoing, SendResult
from channels.twilio_sandbox import (
    SANDBOX_ACCOUNT_SID,
    SANDBOX_AUTH_TOKEN,
    SANDBOX_PREFIX,
    TwilioSandbox,
    redact_number,
)
from intake.messages import Attachment, Channel, InboundMessage
from intake.render import render_sms

log = logging.getLogger(__name__)

MESSAGES_PATH = "/webhooks/twilio/messages"
"""Where Twilio posts inbound SMS and WhatsApp messages (the number's messaging webhook)."""

STATUS_PATH = "/webhooks/twilio/status"
"""Where Twilio posts delivery status callbacks for messages we sent."""

SIGNATURE_HEADER = "X-Twilio-Signature"
WHATSAPP_PREFIX = "whatsapp:"
MAX_MEDIA = 10
"""Twilio sends at most ten media items per message (MediaUrl0..MediaUrl9)."""

OPT_OUT_ERROR = 21610
"""Twilio's error when the recipient has replied STOP."""

TWILIO_KEYWORDS = frozenset({
    "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT",
    "START", "UNSTOP", "HELP", "INFO",
})
"""Words Twilio answers itself on SMS long codes. We still hand them on (the opt-out is
recorded) but answer with empty TwiML, so the reporter does not get two replies."""

KEYWORD_CHANNELS = frozenset({Channel.SMS})
"""Where Twilio's own keyword handling applies: SMS only, not WhatsApp."""

DELIVERY_STATUSES = frozenset({
    "accepted", "scheduled", "queued", "sending", "sent", "delivered", "undelivered",
    "failed", "read", "canceled", "partially_delivered",
})
"""Outbound message statuses forwarded to the delivery handler; others are ignored."""

TOO_MANY_REQUESTS = 429

SEND_TIMEOUT = 15.0
"""Seconds one API call may take. The SDK's async client sets no timeout of its own."""

MEDIA_TIMEOUT = 8.0
"""Seconds for fetching one media item; Twilio gives up on the webhook after 15."""

MEDIA_CHUNK = 64 * 1024


class _TwilioHttp(AsyncTwilioHttpClient):  # type: ignore[misc]  # twilio is untyped
    """The SDK's async HTTP client, sending Basic auth as a header it builds itself.

    twilio 9.13 passes ``aiohttp.BasicAuth``, deprecated since aiohttp 3.14 (a warning, an error
    under ``filterwarnings = error``); twilio/twilio-python#931 is open. The SDK leaves
    Authorization headers out of its request log.
    """

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the SDK's signature
        allow_redirects: bool = False,
    ) -> Any:
        if auth is not None:
            credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers = {**(headers or {}), "Authorization": "Basic " + credentials}
        return await super().request(method, url, params=params, data=data, headers=headers,
                                     auth=None, timeout=timeout,
                                     allow_redirects=allow_redirects)


class TwilioChannel:
    """The :class:`~channels.base.ChannelAdapter` for Twilio SMS and WhatsApp.

    Without an account SID or auth token it runs in sandbox mode: a fixed sandbox account and
    token, and the SDK pointed at the stand-in API this adapter serves under
    ``{public_base_url}/sandbox/twilio`` (unless ``api_base_url`` names another).

    Args:
        account_sid: The Twilio account (``AC…``), or empty for sandbox.
        auth_token: The account's auth token, or None for sandbox.
        from_number: Our SMS number, E.164.
        whatsapp_from: Our WhatsApp sender (``whatsapp:+44…``); None uses ``from_number``.
        public_base_url: The URL Twilio is configured with, e.g. ``https://asb.example.org``;
            webhook signatures are checked against it and status callbacks point at it.
        api_base_url: Where the Twilio API is, or None for Twilio itself (or the stand-in).
        trust_forwarded_headers: Check signatures against X-Forwarded-Proto/Host instead of
            ``public_base_url``; only behind a proxy that sets them.
        media_max_bytes: Larger media are not fetched (the message is kept without them).
        media_types: Content types that are fetched; others are noted, not fetched.
        handle: The intake service's entry point.
        on_delivery: Where delivery status callbacks are reported.
    """

    channels: tuple[Channel, ...] = (Channel.SMS, Channel.WHATSAPP)

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str | None,
        from_number: str,
        whatsapp_from: str | None,
        public_base_url: str,
        api_base_url: str | None,
        trust_forwarded_headers: bool,
        media_max_bytes: int,
        media_types: tuple[str, ...],
        handle: InboundHandler,
        on_delivery: DeliveryHandler,
    ) -> None:
        self._public_base_url = public_base_url.rstrip("/")
        self._sandbox: TwilioSandbox | None = None
        if not account_sid or auth_token is None:
            account_sid, auth_token = SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN
            self._sandbox = TwilioSandbox(account_sid=account_sid, auth_token=auth_token)
            api_base_url = api_base_url or self._public_base_url + SANDBOX_PREFIX
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._from_number = from_number
        self._whatsapp_from = _address(whatsapp_from or from_number, whatsapp=True)
        self._api_base_url = api_base_url.rstrip("/") if api_base_url else None
        self._trust_forwarded_headers = trust_forwarded_headers
        self._media_max_bytes = media_max_bytes
        self._media_types = frozenset(t.lower() for t in media_types)
        self._handle = handle
        self._on_delivery = on_delivery
        self._validator = RequestValidator(auth_token)
        self._client: Any = None
        self._http: Any = None
        self._router: APIRouter | None = None

    @property
    def sandbox(self) -> TwilioSandbox | None:
        """The stand-in Twilio API, in sandbox mode (what was "sent", opt-outs); else None."""
        return self._sandbox

    @property
    def account_sid(self) -> str:
        """The account in use: the configured one, or the sandbox account."""
        return self._account_sid

    @property
    def status_callback_url(self) -> str:
        """The status callback URL given to Twilio with every message we send."""
        return self._public_base_url + STATUS_PATH

    @property
    def client(self) -> Any:
        """The SDK client (``twilio.rest.Client`` on the async HTTP client), made on first use.

        It needs a running event loop: aiohttp binds its session to the loop.
        """
        if self._client is None:
            self._http = _TwilioHttp()
            client = Client(self._account_sid, self._auth_token, http_client=self._http)
            # Only our settings choose where the API is, not stray TWILIO_EDGE/REGION variables.
            client.edge = client.region = None
            if self._api_base_url is not None:
                client.api.base_url = self._api_base_url
            self._client = client
        return self._client

    # --- ChannelAdapter ---------------------------------------------------------------

    def router(self) -> APIRouter:
        """The webhooks, and in sandbox mode the stand-in Twilio API."""
        if self._router is None:
            router = APIRouter(include_in_schema=False)
            router.add_api_route(MESSAGES_PATH, self._inbound, methods=["POST"],
                                 response_class=Response)
            router.add_api_route(STATUS_PATH, self._status, methods=["POST"],
                                 response_class=Response)
            if self._sandbox is not None:
                router.include_router(self._sandbox.router())
            self._router = router
        return self._router

    async def start(self) -> None:
        """Make the SDK client on the running loop; nothing listens (Twilio calls us)."""
        _ = self.client
        log.info("twilio: %s, from %s", "sandbox" if self._sandbox else "live",
                 redact_number(self._from_number))

    async def stop(self) -> None:
        """Close the SDK's aiohttp session (else aiohttp warns of an unclosed session)."""
        if self._http is not None:
            await self._http.close()
        self._client = self._http = None

    async def health(self) -> str:
        """"sandbox" without an account, else "ok" (Twilio is not called to find out)."""
        return "sandbox" if self._sandbox is not None else "ok"

    async def send(self, outgoing: Outgoing) -> SendResult:
        """Send the replies as SMS or WhatsApp messages, one API call per rendered body.

        The reply leaves from the number the reporter texted (``context["to"]``) when known.
        A failure part-way stops there; a retry sends every body again.

        Returns:
            ok with the last message's SID; opted_out for error 21610; retryable for 429,
            5xx, timeouts and connection errors; otherwise a permanent failure.
        """
        if outgoing.channel not in self.channels:
            return SendResult(ok=False, error=f"not a Twilio channel: {outgoing.channel}")
        whatsapp = outgoing.channel is Channel.WHATSAPP
        default_from = self._whatsapp_from if whatsapp else self._from_number
        from_ = _address(outgoing.context.get("to") or default_from, whatsapp)
        to = _address(outgoing.recipient, whatsapp)
        bodies = render_sms(outgoing.replies)
        sid: str | None = None
        for number, body in enumerate(bodies, start=1):
            try:
                async with asyncio.timeout(SEND_TIMEOUT):
                    message = await self.client.messages.create_async(
                        to=to, from_=from_, body=body, status_callback=self.status_callback_url
                    )
            except (TwilioRestException, TwilioServiceException) as exc:
                return _api_failure(exc, outgoing, sid, number, len(bodies))
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.warning("twilio: send %s to %s failed (%s), will retry",
                            outgoing.key, redact_number(to), type(exc).__name__)
                return SendResult(ok=False, retryable=True, external_id=sid,
                                  error=f"{type(exc).__name__} talking to Twilio")
            sid = str(message.sid)
            log.info("twilio: sent %s (%d/%d) to %s as %s, %d characters",
                     outgoing.key, number, len(bodies), redact_number(to), sid, len(body))
        return SendResult(ok=True, external_id=sid)

    # --- webhooks ----------------------------------------------------------------------

    async def _inbound(self, request: Request) -> Response:
        raw = await request.body()
        form = self._verified_form(request, raw, MESSAGES_PATH)
        if isinstance(form, Response):
            return form
        sender, sid = form.get("From", ""), form.get("MessageSid", "")
        if not sender or not sid:
            log.warning("twilio: message webhook without %s: refused (400)",
                        " or ".join(k for k, v in (("From", sender), ("MessageSid", sid)) if not v))
            return Response("missing From or MessageSid", status_code=400,
                            media_type="text/plain")
        channel = Channel.WHATSAPP if sender.startswith(WHATSAPP_PREFIX) else Channel.SMS
        text = form.get("Body", "")
        message = InboundMessage(
            channel=channel,
            sender=sender.removeprefix(WHATSAPP_PREFIX),
            external_id=sid,
            text=text,
            received_at=datetime.now(UTC),
            attachments=await self._fetch_media(form, sid),
            raw=raw,
            reply_context={"to": form.get("To", "")},
        )
        log.info("twilio: %s %s from %s, %d characters, %d media",
                 channel.value, sid, redact_number(sender), len(text), len(message.attachments))
        handled = await self._handle(message, inline=True)
        twiml = MessagingResponse()
        if channel in KEYWORD_CHANNELS and text.strip().upper() in TWILIO_KEYWORDS:
            log.info("twilio: %s is a Twilio keyword; Twilio answers it", sid)
        else:
            for body in render_sms(handled.replies):
                twiml.message(body)
        return Response(str(twiml), media_type="application/xml")

    async def _status(self, request: Request) -> Response:
        form = self._verified_form(request, await request.body(), STATUS_PATH)
        if isinstance(form, Response):
            return form
        sid = form.get("MessageSid", "")
        status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
        if not sid or not status:
            log.warning("twilio: status callback without MessageSid or MessageStatus (400)")
            return Response("missing MessageSid or MessageStatus", status_code=400,
                            media_type="text/plain")
        if status not in DELIVERY_STATUSES:
            log.info("twilio: status %r for %s ignored", status, sid)
            return Response(status_code=204)
        whatsapp = any(form.get(k, "").startswith(WHATSAPP_PREFIX) for k in ("To", "From"))
        channel = Channel.WHATSAPP if whatsapp else Channel.SMS
        error_code = form.get("ErrorCode") or None
        log.info("twilio: %s is %s%s", sid, status, f" (error {error_code})" if error_code else "")
        await self._on_delivery(channel, sid, status, error_code)
        return Response(status_code=204)

    def _verified_form(
        self, request: Request, raw: bytes, path: str
    ) -> ImmutableMultiDict[str, str] | Response:
        """The posted form if Twilio signed it for our account; otherwise the 4xx to answer."""
        signature = request.headers.get(SIGNATURE_HEADER)
        try:
            form = ImmutableMultiDict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            form = None
        url = self._signed_url(request, path)
        if not signature or form is None or not self._validator.validate(url, form, signature):
            log.warning("twilio: %s signature on %s for %s: refused (403)",
                        "missing" if not signature else "bad", path, url)
            return Response("invalid signature", status_code=403, media_type="text/plain")
        account = form.get("AccountSid")
        if account is not None and account != self._account_sid:
            log.warning("twilio: %s for another account %s…: refused (403)", path, account[:6])
            return Response("not our account", status_code=403, media_type="text/plain")
        return form

    def _signed_url(self, request: Request, path: str) -> str:
        """The URL Twilio signed: our public URL, or the proxy's forwarded view of it."""
        query = request.url.query
        suffix = f"?{query}" if query else ""
        if not self._trust_forwarded_headers:
            return self._public_base_url + path + suffix
        headers = request.headers
        scheme = _first(headers.get("x-forwarded-proto")) or request.url.scheme
        host = _first(headers.get("x-forwarded-host")) or headers.get("host") or request.url.netloc
        return f"{scheme}://{host}{request.url.path}{suffix}"

    # --- media -------------------------------------------------------------------------

    async def _fetch_media(
        self, form: Mapping[str, str], sid: str
    ) -> tuple[Attachment, ...]:
        """Fetch every MediaUrlN; one that is refused or fails is kept with its URL only."""
        items = [
            (form[f"MediaUrl{n}"], _media_type(form.get(f"MediaContentType{n}")))
            for n in range(MAX_MEDIA)
            if form.get(f"MediaUrl{n}")
        ]
        if not items:
            return ()
        async with httpx.AsyncClient(
            auth=(self._account_sid, self._auth_token),
            follow_redirects=True,
            timeout=httpx.Timeout(MEDIA_TIMEOUT),
        ) as http:
            return tuple(await asyncio.gather(
                *(self._fetch_one(http, sid, n, url, declared)
                  for n, (url, declared) in enumerate(items))
            ))

    async def _fetch_one(
        self, http: httpx.AsyncClient, sid: str, n: int, url: str, declared: str
    ) -> Attachment:
        refused = Attachment(content_type=declared or "application/octet-stream", size=0, url=url)
        if declared not in self._media_types:
            log.info("twilio: %s media %d not fetched: type %r not accepted", sid, n, declared)
            return refused
        try:
            async with asyncio.timeout(MEDIA_TIMEOUT), http.stream("GET", url) as response:
                if response.status_code != 200:
                    log.warning("twilio: %s media %d not fetched: HTTP %d",
                                sid, n, response.status_code)
                    return refused
                actual = _media_type(response.headers.get("content-type")) or declared
                if actual not in self._media_types:
                    log.info("twilio: %s media %d not kept: served as %r", sid, n, actual)
                    return refused
                length = response.headers.get("content-length", "")
                if length.isdigit() and int(length) > self._media_max_bytes:
                    log.info("twilio: %s media %d not fetched: %s bytes is over %d",
                             sid, n, length, self._media_max_bytes)
                    return Attachment(content_type=actual, size=int(length), url=url)
                data = bytearray()
                async for chunk in response.aiter_bytes(MEDIA_CHUNK):
                    data += chunk
                    if len(data) > self._media_max_bytes:
                        log.info("twilio: %s media %d not kept: over %d bytes",
                                 sid, n, self._media_max_bytes)
                        return Attachment(content_type=actual, size=len(data), url=url)
        except (httpx.HTTPError, TimeoutError) as exc:
            log.warning("twilio: %s media %d not fetched: %s", sid, n, type(exc).__name__)
            return refused
        return Attachment(content_type=actual, size=len(data), data=bytes(data), url=url)


def _address(number: str, whatsapp: bool) -> str:
    bare = number.removeprefix(WHATSAPP_PREFIX)
    return WHATSAPP_PREFIX + bare if whatsapp else bare


def _media_type(value: str | None) -> str:
    """``image/jpeg`` from ``image/jpeg; charset=…``, lower case; empty when absent."""
    return (value or "").split(";")[0].strip().lower()


def _first(value: str | None) -> str:
    """The first (client-side) value of a possibly comma-joined forwarded header."""
    return (value or "").split(",")[0].strip()


def _api_failure(
    exc: Any, outgoing: Outgoing, sent_sid: str | None, number: int, total: int
) -> SendResult:
    """The result for an error the Twilio API answered with."""
    status = int(getattr(exc, "status", 0) or 0)
    code = getattr(exc, "code", None)
    where = f"{number}/{total}"
    error = f"Twilio error {code} (HTTP {status})"
    if code == OPT_OUT_ERROR:
        log.info("twilio: send %s (%s) refused: recipient opted out", outgoing.key, where)
        return SendResult(ok=False, opted_out=True, external_id=sent_sid, error=error)
    retryable = status == TOO_MANY_REQUESTS or status >= 500
    log.warning("twilio: send %s (%s) failed: %s%s", outgoing.key, where, error,
                ", will retry" if retryable else "")
    return SendResult(ok=False, retryable=retryable, external_id=sent_sid, error=error)
