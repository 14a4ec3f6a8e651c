"""The FastAPI application: `create_app(settings)` builds it; `python -m ...app` serves it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from .api.audit_trail import AuditTrail
from .api.routes import (
    admin,
    audit,
    auth,
    kept_volumes,
    metrics,
    proxy,
    shares,
    snapshots,
    sockets,
    system,
    templates,
    usage_report,
    workspaces,
)
from .api.routes import events as event_routes
from .auth import Authenticator
from .backends import WorkspaceBackend
from .errors import ERROR_RESPONSES, install_error_handlers
from .runtime import Runtime
from .settings import Settings, load_settings


def create_app(
    settings: Settings | None = None,
    backend: WorkspaceBackend | None = None,
    authenticator: Authenticator | None = None,
) -> FastAPI:
    runtime = Runtime(settings or Settings(), backend, authenticator)
    settings = runtime.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        warn_about(runtime)
        await runtime.open()
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(
        title="ML Lab Workspace Manager",
        version="0.1.0",
        description="Create, start, stop, resize and delete ml-workspace containers.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        # Served below, with a relative link: the API is reached under /api, and under ML
        # Lab's path prefix too, where "/openapi.json" would point elsewhere.
        docs_url=None,
        redoc_url=None,
    )

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="openapi.json", title=f"{app.title} API")

    app.state.runtime = runtime  # (routes get its parts through `api/deps.py`)
    install_error_handlers(app)
    if settings.backend_cors_origins:
        # Only the listed origins, never a reflected "*" with credentials.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.backend_cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "ct_token", "X-Requested-With"],
        )
    app.include_router(system.router)
    app.include_router(metrics.router)
    app.include_router(auth.router)
    app.include_router(admin.router)
    app.include_router(proxy.router)
    app.include_router(sockets.router)
    app.include_router(event_routes.router)
    app.include_router(workspaces.router)
    app.include_router(kept_volumes.router)
    app.include_router(shares.router)
    app.include_router(templates.router)
    app.include_router(snapshots.router)
    app.include_router(audit.router)
    app.include_router(usage_report.router)
    # Outside CORS, so that what it refuses is written too.
    app.add_middleware(AuditTrail, runtime=runtime)
    return app


def warn_about(runtime: Runtime) -> None:
    """Settings that work, but not as an operator would want."""
    settings, log = runtime.settings, logging.getLogger(__name__)
    if (
        settings.mllab_mode
        and runtime.backend.proxied_by_manager
        and not settings.unsafe_workspaces_on_manager_origin
        and ":" not in settings.workspace_host
    ):
        log.warning(
            "Behind ML Lab the workspaces' own origins reach this manager directly, not "
            "through ML Lab's proxy: set WORKSPACE_HOST to a host and port that browsers "
            "reach this manager's port 8080 at (e.g. '{id}.ws.example.org:8443'); now "
            "'%s' takes the port of ML Lab's address.",
            settings.workspace_host,
        )
    if settings.unsafe_workspaces_on_manager_origin:
        log.warning(
            "UNSAFE_WORKSPACES_ON_MANAGER_ORIGIN is set: workspaces are served on the "
            "manager's own origin, where any user's workspace can act as whoever opens it "
            "(including administrators). Use it only for a single user or users who trust "
            "each other completely; unset it to serve each workspace on its own origin."
        )


def main() -> None:
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        # Access lines would carry ?ct_token=... query strings: tokens never go to logs.
        access_log=False,
        # A browser's messages to a workspace's WebSocket (the bridge holds one whole).
        ws_max_size=sockets.MAX_MESSAGE_BYTES,
        ws_max_queue=1,
        # nginx keeps connections to us open for reuse (up to its keepalive_timeout, 60 s).
        # Were we to close an idle one first (uvicorn's default: after 5 s), a request nginx
        # sends on it just then fails with 502, and a POST is not retried.
        timeout_keep_alive=75,
    )


if __name__ == "__main__":
    main()
