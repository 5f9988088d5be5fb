"""A stand-in for the part of the Twilio REST API the Twilio channel uses (DESIGN.md, sandbox).

With no Twilio account the adapter still sends through the real SDK; the SDK's
``client.api.base_url`` points here, under ``/sandbox/twilio``. Only "create a message" is
served: it checks the account and Basic auth the way Twilio does, answers 201 with a message
resource, and keeps what was "sent" in memory (:attr:`TwilioSandbox.sent`). Nothing lists it over
HTTP here: managers see it in the officer console (``/console/sandbox``), behind a session. A
recipient marked opted out gets error 21610 and a malformed number 21211, as from Twilio.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)

SANDBOX_ACCOUNT_SID = "AC" + "0" * 32
"""The account the SDK is configured with when there is no real one."""

SANDBOX_AUTH_TOKEN = "sandbox-auth-token"  # noqa: S105 - a fixed, public stand-in value
"""The token the SDK and the stand-in share; webhooks in sandbox are signed with it too."""

SANDBOX_PREFIX = "/sandbox/twilio"
"""Where the stand-in is mounted: the SDK's ``api.base_url`` is the public URL plus this."""

API_VERSION = "2010-04-01"

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")

ERRORS: dict[int, tuple[int, str]] = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource was not found"),
    21211: (400, "Invalid 'To' Phone Number"),
    21602: (400, "Message body is required."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
}
"""The Twilio errors the stand-in can give: code → (HTTP status, message)."""


def redact_number(number: str) -> str:
    """A phone number as it may appear in INFO logs: its last three digits only."""
    digits = re.sub(r"\D", "", number)
    return "***" + digits[-3:] if digits else "***"


@dataclass(frozen=True)
class SentMessage:
    """One message the stand-in accepted, as Twilio's message resource describes it."""

    sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    status_callback: str | None
    date_created: datetime

    def resource(self) -> dict[str, Any]:
        """The JSON Twilio answers for a created message."""
        created = format_datetime(self.date_created, usegmt=True)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": created,
            "date_sent": None,
            "date_updated": created,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "GBP",
            "sid": self.sid,
            "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": self.to,
            "uri": f"{uri}.json",
        }


class TwilioSandbox:
    """The in-memory stand-in Twilio API, one per adapter in sandbox mode.

    Args:
        account_sid: The only account it serves.
        auth_token: The token the SDK must present with Basic auth.
    """

    def __init__(self, *, account_sid: str, auth_token: str) -> None:
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._sent: list[SentMessage] = []
        self._opted_out: set[str] = set()

    @property
    def sent(self) -> tuple[SentMessage, ...]:
        """Everything "sent" so far, oldest first."""
        return tuple(self._sent)

    def opt_out(self, number: str) -> None:
        """Treat ``number`` as having texted STOP: sends to it fail with error 21610."""
        self._opted_out.add(number.removeprefix("whatsapp:"))

    def opt_in(self, number: str) -> None:
        """Undo :meth:`opt_out` (the reporter texted START)."""
        self._opted_out.discard(number.removeprefix("whatsapp:"))

    def router(self) -> APIRouter:
        """The stand-in's routes, under ``/sandbox/twilio``."""
        router = APIRouter(prefix=SANDBOX_PREFIX, include_in_schema=False)
        router.add_api_route(
            f"/{API_VERSION}/Accounts/{{sid}}/Messages.json",
            self._create_message,
            methods=["POST"],
            response_class=JSONResponse,
        )
        return router

    async def _create_message(self, sid: str, request: Request) -> JSONResponse:
        if sid != self._account_sid or not self._authorised(request.headers.get("authorization")):
            return _error(20003)
        fields = dict(parse_qsl((await request.body()).decode("utf-8", "replace"),
                                keep_blank_values=True))
        to = fields.get("To", "")
        if not _E164.match(to.removeprefix("whatsapp:")):
            return _error(21211)
        if not fields.get("Body"):
            return _error(21602)
        if to.removeprefix("whatsapp:") in self._opted_out:
            log.info("twilio sandbox: refused to %s: opted out (21610)", redact_number(to))
            return _error(21610)
        message = SentMessage(
            sid="SM" + secrets.token_hex(16),
            account_sid=sid,
            to=to,
            from_=fields.get("From", ""),
            body=fields["Body"],
            status_callback=fields.get("StatusCallback"),
            date_created=datetime.now(UTC),
        )
        self._sent.append(message)
        log.info("twilio sandbox: sent %s to %s, %d characters",
                 message.sid, redact_number(to), len(message.body))
        log.debug("twilio sandbox: %s to %s from %s: %r",
                  message.sid, to, message.from_, message.body)
        return JSONResponse(message.resource(), status_code=201)

    def _authorised(self, header: str | None) -> bool:
        scheme, _, encoded = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(f"{user}:{password}".encode(),
                                      f"{self._account_sid}:{self._auth_token}".encode())


def _error(code: int) -> JSONResponse:
    status, message = ERRORS[code]
    return JSONResponse(
        {"code": code, "message": message,
         "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
        status_code=status,
    )
