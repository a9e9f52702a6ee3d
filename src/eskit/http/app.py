"""The FastAPI application of an eskit service: error mapping, middleware, health, docs."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig
from starlette.types import ASGIApp

from eskit.http.errors import install_error_handlers
from eskit.http.health import ProjectionStatuses, health_router
from eskit.http.metrics import metrics_router
from eskit.http.middleware import ApiKeyMiddleware, BodyLimitMiddleware, RequestIdMiddleware
from eskit.http.openapi import complete_openapi
from eskit.observability.tracing import tracing_on
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend

__all__ = ["ADMIN_PATH", "OPEN_PATHS", "create_app"]

OPEN_PATHS = ("/health/", "/docs", "/redoc", "/openapi.json")
"""Paths that need no API key."""
ADMIN_PATH = "/admin"
"""Where the admin console is mounted; it checks its own sessions (see eskit.admin)."""


def create_app(
    store: EventStoreBackend,
    routers: Sequence[APIRouter],
    *,
    settings: EskitSettings | None = None,
    title: str = "eskit service",
    version: str = "1",
    projections: ProjectionStatuses | None = None,
    admin: ASGIApp | None = None,
) -> FastAPI:
    """A FastAPI app serving ``routers`` over ``store``, with eskit's conventions.

    Errors answer ``{"error": {"code", "message", "details"}}`` (see :mod:`eskit.http.errors`);
    each request gets an id (``X-Request-ID``); bodies over ``max_body_bytes`` get 413;
    with ``api_keys`` set, calls need ``Authorization: Bearer <key>`` (health and docs stay
    open); ``/health/live`` and ``/health/ready``, which lists the states ``projections``
    gives; OpenAPI docs at ``/docs``, declaring ``X-Request-ID`` and the 405 and 500 answers
    on every operation. ``GET /metrics`` serves Prometheus metrics (behind the API keys
    when they are set; not in the OpenAPI schema).
    ``admin`` (the console's app, see :mod:`eskit.admin`) is mounted at
    ``/admin``, outside the OpenAPI schema; it takes a browser session instead of a bearer
    key.
    """
    settings = settings or EskitSettings()
    app = FastAPI(title=title, version=version, telemetry=_telemetry())
    install_error_handlers(app)
    app.include_router(health_router(store, projections=projections))
    app.include_router(metrics_router())
    for router in routers:
        app.include_router(router)
    if admin is not None:
        app.mount(ADMIN_PATH, admin)
    complete_openapi(app)
    # added innermost first: the request id wraps everything, so even a 401 carries one
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    keys = [key.get_secret_value() for key in settings.api_keys]
    if keys:  # keys off: not a layer every request passes through for nothing
        # the console checks its own session cookie: a browser sends no bearer key
        own_door = (f"{ADMIN_PATH}/",) if admin is not None else ()
        app.add_middleware(
            ApiKeyMiddleware,
            keys=keys,
            open_prefixes=(*OPEN_PATHS, *own_door),
            open_paths=(ADMIN_PATH,) if admin is not None else (),
        )
    app.add_middleware(RequestIdMiddleware)
    return app


def _telemetry() -> TelemetryConfig:
    """FastAPI's own OpenTelemetry: a server span per request when tracing is on (a tracer
    provider is set before the app is made), nothing otherwise, so that requests do not
    look the providers up each time to find there are none. Its metrics are left to
    ``/metrics``, its logs off (they would carry request bodies that failed validation), and
    its spans per dependency and endpoint off: eskit's command span is the request's child."""
    on = tracing_on()
    return {"tracing": on, "metrics": False, "logs": False, "operation_spans": False}
