"""Liveness and readiness endpoints for orchestrators and load balancers.

Readiness answers whether the service can take commands (the store answers) and, beside it,
how every projection is doing: a failing or stalled projection makes the answer
``"degraded"`` but keeps it 200, since commands are still served and the other read models
still follow the log. A load balancer that should take such a node out asks
``/health/ready?projections=strict``, which answers 503 when degraded.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from eskit.errors import StoreUnavailableError
from eskit.projections.status import ProjectionStatus
from eskit.store import EventStoreBackend
from eskit.store.leases import LeaseInfo

__all__ = ["Health", "LeaseHealth", "ProjectionHealth", "ProjectionStatuses", "health_router"]

ProjectionStatuses = Callable[[], Awaitable[Sequence[ProjectionStatus]]]
"""What readiness asks for the projections' states (``ProjectionRunner.status`` or alike)."""


class LeaseHealth(BaseModel):
    """Which process runs a projection, as readiness shows it (camelCase in JSON).

    ``state``: ``running_here``, ``standby``, ``running_elsewhere``, ``expired`` (the holder
    stopped renewing it: dead or cut off) or ``not_running``; the holder's fields are null
    when nobody holds it.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    state: str
    holder: str | None = None
    host: str | None = None
    pid: int | None = None
    since: datetime | None = None
    beat_at: datetime | None = None
    expires_at: datetime | None = None

    @classmethod
    def of(cls, lease: LeaseInfo) -> LeaseHealth:
        """The readiness view of ``lease``."""
        return cls(**dataclasses.asdict(lease))


class ProjectionHealth(BaseModel):
    """One projection as readiness shows it (camelCase in JSON)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    name: str
    state: str
    healthy: bool
    position: int
    lag_events: int
    lag_seconds: float
    policy: str
    parked: int
    error: str | None = None
    error_position: int | None = None
    stalled_reason: str | None = None
    lease: LeaseHealth | None = None

    @classmethod
    def of(cls, status: ProjectionStatus) -> ProjectionHealth:
        """The readiness view of ``status``."""
        return cls(
            name=status.name,
            state=status.state,
            healthy=status.healthy,
            position=status.position,
            lag_events=status.lag_events,
            lag_seconds=round(status.lag_seconds, 3),
            policy=status.policy,
            parked=status.parked,
            error=status.error,
            error_position=status.error_position,
            stalled_reason=status.stalled_reason,
            lease=None if status.lease is None else LeaseHealth.of(status.lease),
        )


class Health(BaseModel):
    """A health answer; ``position`` is the store's head, for readiness.

    ``status`` is ``degraded`` when a projection is failing or stalled (see ``projections``).
    """

    status: Literal["ok", "degraded"]
    position: int | None = None
    projections: list[ProjectionHealth] = []


def health_router(
    store: EventStoreBackend,
    *,
    projections: ProjectionStatuses | None = None,
    timeout_s: float = 2.0,
) -> APIRouter:
    """``GET /health/live`` (the process answers) and ``GET /health/ready`` (the store too).

    Readiness answers 503 (``store_unavailable``) when the store does not answer within
    ``timeout_s``. With ``projections``, it lists each one's state and says ``degraded`` when
    one is failing or stalled: still 200, or 503 with ``?projections=strict``.
    """
    router = APIRouter(prefix="/health", tags=["health"])

    @router.get("/live", response_model=Health, response_model_by_alias=True)
    async def live() -> Health:
        """The process is up and serving."""
        return Health(status="ok")

    @router.get(
        "/ready",
        response_model=Health,
        response_model_by_alias=True,
        responses={503: {"description": "Not ready (the store), or degraded and strict"}},
    )
    async def ready(
        strictness: Annotated[Literal["lenient", "strict"], Query(alias="projections")] = "lenient",
    ) -> Health | JSONResponse:
        """The event store answers: the service can take traffic. Lists the projections."""
        position, states = await _ask(store, projections, timeout_s)
        unhealthy = any(not state.healthy for state in states)
        health = Health(
            status="degraded" if unhealthy else "ok",
            position=position,
            projections=[ProjectionHealth.of(state) for state in states],
        )
        if unhealthy and strictness == "strict":
            return JSONResponse(health.model_dump(mode="json", by_alias=True), status_code=503)
        return health

    return router


async def _ask(
    store: EventStoreBackend, projections: ProjectionStatuses | None, timeout_s: float
) -> tuple[int, Sequence[ProjectionStatus]]:
    """The store's head and the projections' states; StoreUnavailableError if they do not come."""
    try:
        async with asyncio.timeout(timeout_s):
            position = await store.last_position()
            states = await projections() if projections is not None else ()
    except StoreUnavailableError:
        raise
    except Exception as exc:
        raise StoreUnavailableError(f"the event store did not answer: {exc!r}") from exc
    return position, states
