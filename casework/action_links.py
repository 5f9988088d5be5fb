"""The one-click links in officer alerts: GET shows one button, POST acts.

Mail scanners open every link in a message, so a GET never changes anything: it shows what
the link will do and a button that posts the signed token back. The token is the capability
(signed for one officer, one case and one verb, and it expires), so no session is needed.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from casework.context import CaseworkContext
from casework.officer_replies import handle_action_link
from storage.uow import Storage

log = logging.getLogger(__name__)

PATH = "/officer/act/{token}"
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head><body><main>"
        f"<h1>{html.escape(title)}</h1>{body}</main></body></html>",
        headers=HEADERS,
    )


def action_link_router(
    storage: Storage, context: CaseworkContext, clock: Callable[[], datetime]
) -> APIRouter:
    """Routes for the signed links in officer alerts."""
    router = APIRouter(include_in_schema=False)

    @router.get(PATH)
    async def confirm(token: str) -> HTMLResponse:
        links = context.links
        action = links.read(token, clock()) if links is not None else None
        if action is None:
            return _page("This link has expired", "<p>Please reply to the alert instead.</p>")
        return _page(
            f"{action.verb.title()} {action.reference}",
            f'<form method="post"><p><button type="submit">'
            f"{html.escape(action.verb.title())} {html.escape(action.reference)}</button></p>"
            "</form>",
        )

    @router.post(PATH)
    async def act(token: str) -> HTMLResponse:
        async with storage.unit_of_work() as uow:
            answer = await handle_action_link(uow, token, clock(), casework=context)
        return _page("Done", f"<p>{html.escape(answer)}</p>")

    return router
