"""The service put together: the repository restored, the read model consuming, the app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import TracebackType
from typing import Self

from fastapi import FastAPI

from eskit.http.errors import install_error_handlers
from eskit.http.middleware import BodyLimitMiddleware, RequestIdMiddleware
from eskit.messaging import Topology
from eskit.messaging.kafka_bus import KafkaBus
from eskit.messaging.kafka_repository import KafkaRepository, RestoreProgress
from kafka_users.app import user_commands
from kafka_users.domain import User
from kafka_users.http_api import users_router
from kafka_users.read_model import UsersReadModel

__all__ = ["KafkaUsers"]


class KafkaUsers:
    """The user service on the Kafka cluster at ``bootstrap_servers``.

    ``async with`` restores the users (reporting to ``on_progress``), starts the read
    model's consumer and makes :attr:`app`; leaving it stops both and frees the topic's
    writer lease.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topology: Topology | None = None,
        idempotent: bool = True,
        max_body_bytes: int = 64 * 1024,
        snapshot_every: int | None = 10_000,
        on_progress: Callable[[RestoreProgress], None] | None = None,
    ) -> None:
        topology = topology or Topology(prefix="kafka-users")
        self.repository = KafkaRepository(
            bootstrap_servers,
            User,
            topology=topology,
            idempotent=idempotent,
            snapshot_every=snapshot_every,
            on_progress=on_progress,
        )
        self.bus = KafkaBus(bootstrap_servers, topology, session_timeout_s=2.0)
        self.users = UsersReadModel(self.bus, self.repository.registry)
        self.commands = user_commands(self.repository)
        self.app = FastAPI(title="kafka users", version="1")
        install_error_handlers(self.app)
        self.app.include_router(users_router(self.commands, self.users))
        self.app.add_middleware(BodyLimitMiddleware, limit=max_body_bytes)
        self.app.add_middleware(RequestIdMiddleware)
        self._stop = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        await self.repository.open()
        self._reader = asyncio.create_task(self.users.run(self._stop), name="users read model")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        reader, self._reader = self._reader, None
        if reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reader, 10.0)
        await self.bus.close()
        await self.repository.close()
