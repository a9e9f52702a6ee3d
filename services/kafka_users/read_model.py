"""The users read model: a consumer of the users' topic keeps one document per user.

It reads through eskit's Kafka bus (a consumer group of its own per process, from the
topic's beginning), so it is rebuilt from the topic at every start and kept in memory;
``GET /users/{id}`` answers from it. It is eventually consistent: a user created a moment
ago may not be there yet.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from eskit.domain import EventRegistry
from eskit.messaging.envelope import incoming_event
from eskit.messaging.kafka_bus import KafkaBus
from kafka_users.domain import User, UserCreated, UserDeactivated, UserEmailChanged, UserRenamed

__all__ = ["UsersReadModel"]

log = logging.getLogger(__name__)


class UsersReadModel:
    """One document per user, fed by the users' topic."""

    def __init__(self, bus: KafkaBus, registry: EventRegistry) -> None:
        self._bus = bus
        self._registry = registry
        self._users: dict[str, dict[str, Any]] = {}
        self.applied = 0
        """How many events the read model has taken in."""

    def get(self, user_id: str) -> dict[str, Any] | None:
        """The user's document, or None if the read model has not seen them (yet)."""
        found = self._users.get(user_id)
        return None if found is None else dict(found)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set."""
        group = f"kafka-users-read-{uuid.uuid4().hex[:8]}"  # in memory: read it all each start
        async with self._bus.consumer(group, [User.stream_type]) as consumer:
            while not stop.is_set():
                deliveries = await consumer.fetch(500, 0.2)
                for delivery in deliveries:
                    self._apply(incoming_event(delivery))
                if deliveries:
                    await consumer.ack(deliveries)

    def _apply(self, incoming: Any) -> None:
        event = self._registry.decode(
            incoming.event_type, incoming.schema_version, incoming.data, position=incoming.position
        )
        user_id = incoming.stream_id
        current = self._users.get(user_id)
        if current is not None and incoming.version <= current["version"]:
            return  # delivered again: already taken in
        match event:
            case UserCreated():
                current = {"id": user_id, **event.model_dump(), "active": True}
            case UserRenamed(first_name=first, last_name=last) if current is not None:
                current.update(first_name=first, last_name=last)
            case UserEmailChanged(email=email) if current is not None:
                current["email"] = email
            case UserDeactivated() if current is not None:
                current["active"] = False
            case _:
                log.warning("user %s: %s before the user was created", user_id, type(event))
                return
        current["version"] = incoming.version
        self._users[user_id] = current
        self.applied += 1
