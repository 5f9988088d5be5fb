"""The HTTP application: the channels' webhooks and pages, /healthz and /metrics."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from channels.base import ChannelAdapter
from intake import __version__
from intake.settings import Settings
from storage.uow import Storage

log = logging.getLogger(__name__)


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

        @app.get("/metrics")
        async def metrics() -> Response:
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
