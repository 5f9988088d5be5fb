"""The HTTP application: health now; webhooks, web chat and the console join it later."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from intake import __version__
from intake.settings import Settings
from storage.uow import Storage

log = logging.getLogger(__name__)


def create_app(settings: Settings, storage: Storage) -> FastAPI:
    """Build the ASGI app around already-built settings and storage (no work at import)."""
    app = FastAPI(title=settings.service.name, version=__version__, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            await storage.ping()
            checks["database"] = "ok"
        except (SQLAlchemyError, OSError) as exc:
            log.warning("health check: database unreachable: %s", type(exc).__name__)
            checks["database"] = "unreachable"
        healthy = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ok" if healthy else "unhealthy", "checks": checks, "version": __version__},
            status_code=200 if healthy else 503,
        )

    return app
