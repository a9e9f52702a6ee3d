"""``GET /metrics``: the process's Prometheus metrics, on the service's own HTTP port."""

from __future__ import annotations

from fastapi import APIRouter, Response

from eskit.observability.metrics import exposition

__all__ = ["metrics_router"]


def metrics_router() -> APIRouter:
    """A router serving ``GET /metrics`` in Prometheus' text format, left out of the
    OpenAPI schema (it is for the scraper, not for the API's clients).

    The route is synchronous on purpose: FastAPI runs it in a thread, so reading the
    values (files, in multiprocess mode) never holds up the event loop.
    """
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    return router
