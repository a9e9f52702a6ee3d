"""Liveness and readiness endpoints for orchestrators and load balancers."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from eskit.errors import StoreUnavailableError
from eskit.store import EventStoreBackend

__all__ = ["Health", "health_router"]


class Health(BaseModel):
    """A health answer; ``position`` is the store's head, for readiness."""

    status: Literal["ok"]
    position: int | None = None


def health_router(store: EventStoreBackend, *, timeout_s: float = 2.0) -> APIRouter:
    """``GET /health/live`` (the process answers) and ``GET /health/ready`` (the store too).

    Readiness answers 503 (``store_unavailable``) when the store does not answer a read of
    its head within ``timeout_s``.
    """
    router = APIRouter(prefix="/health", tags=["health"])

    @router.get("/live", response_model=Health)
    async def live() -> Health:
        """The process is up and serving."""
        return Health(status="ok")

    @router.get("/ready", response_model=Health, responses={503: {"description": "Not ready"}})
    async def ready() -> Health:
        """The event store answers: the service can take traffic."""
        try:
            position = await asyncio.wait_for(store.last_position(), timeout_s)
        except StoreUnavailableError:
            raise
        except Exception as exc:
            raise StoreUnavailableError(f"the event store did not answer: {exc!r}") from exc
        return Health(status="ok", position=position)

    return router
