"""Helpers of the Kafka repository's tests: a repository of members on a fresh topic."""

from __future__ import annotations

import uuid
from typing import Any

from eskit.messaging import Topology
from eskit.messaging.kafka_repository import KafkaRepository
from tests.messaging.members import Member


def fresh_prefix() -> str:
    """A topic prefix no other test uses."""
    return f"k{uuid.uuid4().hex[:12]}"


def members(bootstrap_servers: str, prefix: str, **options: Any) -> KafkaRepository[Member]:
    """The members' repository under ``prefix`` (Tansu has no idempotent producer)."""
    settings: dict[str, Any] = {"partitions": 3, "idempotent": False, "timeout_s": 5.0}
    settings.update(options)
    return KafkaRepository(bootstrap_servers, Member, topology=Topology(prefix=prefix), **settings)


async def states(repository: KafkaRepository[Member]) -> dict[str, dict[str, Any]]:
    """Every member the repository holds, as plain data (version included)."""
    return {
        member_id: (await repository.load(member_id)).model_dump()
        for member_id in repository.aggregate_ids()
    }
