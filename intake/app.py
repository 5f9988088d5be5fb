"""The HTTP application: the channels' webhooks and pages, /healthz and /metrics.

``/metrics`` (Prometheus) answers only a scraper that sends ``Authorization: Bearer <token>``
with the token in ``INTAKE_SERVICE__METRICS_TOKEN`` (compared in constant time); a wrong or
missing token gets 401. With no token configured it answers 404 to everyone: counts of
messages by channel are not for the world to read.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from channels.base import ChannelAdapter
from intake import __version__
from intake.settings import Settings
from storage.uow import Storage

log = logging.getLogger(__name__)

_NO_STORE = {"Cache-Control": "no-store"}


def create_app(
    settings: Settings,
    storage: Storage,
    adapters: Sequence[ChannelAdapter] = (),
    registry: CollectorRegistry | None = None,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """Build the ASGI app around already-built parts (no work at import)."""
    app = FastAPI(
        title=settings.service.name,
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    for adapter in adapters:
        router = adapter.router()
        if router is not None:
            app.include_router(router)
    for extra in routers:
        app.include_router(extra)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            await storage.ping()
            checks["database"] = "ok"
        except (SQLAlchemyError, OSError) as exc:
            log.warning("health check: database unreachable: %s", type(exc).__name__)
            checks["database"] = "unreachable"
        for adapter in adapters:
            state = await adapter.health()
            for channel in adapter.channels:
                checks[channel.value] = state
        healthy = all(v in ("ok", "sandbox") for v in checks.values())
        return JSONResponse(
            {"status": "ok" if healthy else "unhealthy", "checks": checks, "version": __version__},
            status_code=200 if healthy else 503,
        )

    if registry is not None:
        secret = settings.service.metrics_token
        expected = secret.get_secret_value().encode("utf-8") if secret is not None else None
        if expected is None:
            log.info("/metrics is off: set INTAKE_SERVICE__METRICS_TOKEN to let Prometheus in")

        @app.get("/metrics")
        async def metrics(request: Request) -> Response:
            if expected is None:
                return PlainTextResponse("Not Found", status_code=404, headers=_NO_STORE)
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode("utf-8"), expected
            ):
                return PlainTextResponse(
                    "Unauthorized: send the metrics token as 'Authorization: Bearer <token>'",
                    status_code=401,
                    headers={**_NO_STORE, "WWW-Authenticate": 'Bearer realm="metrics"'},
                )
            return Response(
                generate_latest(registry), media_type=CONTENT_TYPE_LATEST, headers=_NO_STORE
            )

    return app
