"""Snapshots on a compacted topic, ``<topic>.snapshots``.

A snapshot run writes one record per aggregate changed since the last run (key: the stream
id; value: version, state and the ids of its latest events, so retried commands are still
recognised after a restart) and then a manifest (key: empty) naming, per partition of the
events topic, the offset up to which every aggregate's events are covered by a snapshot
record written before it. A restore reads this topic whole, keeps the newest record of
each key and the newest manifest, and reads the events topic only from the manifest's
offsets on. An event at or below its aggregate's snapshot version is skipped, so records a
later, unfinished run wrote are still correct to use.

Compaction keeps the newest record of each key; where the broker does not compact (Tansu
keeps topics in memory and never does), the restore still uses only the newest.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from eskit.messaging.kafka_repository.errors import KafkaRecordError
from eskit.messaging.kafka_repository.topics import Batch

__all__ = ["AggregateSnapshot", "Manifest", "SnapshotSet", "write_run"]

MANIFEST_KEY = b""


@dataclass(frozen=True, slots=True)
class AggregateSnapshot:
    """One aggregate's state at ``version``, with its latest events' ids."""

    stream_id: str
    version: int
    schema_version: int
    state: dict[str, Any]
    recent: list[list[Any]]
    """``[event_id, version, position, fingerprint]`` of its latest events."""


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a finished snapshot run covers."""

    offsets: dict[int, int]
    """Per partition of the events topic: the offset a restore reads on from."""
    position: int
    """The highest position written before the run."""
    run: int


@dataclass(slots=True)
class SnapshotSet:
    """The newest snapshot record of each aggregate and the newest manifest."""

    aggregates: dict[str, AggregateSnapshot] = field(default_factory=dict)
    manifest: Manifest | None = None
    records: int = 0

    def fold(self, topic: str, partition: int, records: Batch) -> None:
        """Take in records read from the snapshot topic, in offset order."""
        for record in records:
            self.records += 1
            try:
                body = orjson.loads(record.value or b"")
                if record.key == MANIFEST_KEY:
                    self.manifest = Manifest(
                        {int(p): int(o) for p, o in body["offsets"].items()},
                        int(body["position"]),
                        int(body["run"]),
                    )
                else:
                    stream_id = (record.key or b"").decode()
                    self.aggregates[stream_id] = AggregateSnapshot(
                        stream_id,
                        int(body["version"]),
                        int(body["schema_version"]),
                        body["state"],
                        body["recent"],
                    )
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise KafkaRecordError(
                    topic, partition, record.offset, "bad_snapshot", repr(exc)
                ) from exc


async def write_run(
    producer: AIOKafkaProducer,
    topic: str,
    aggregates: list[AggregateSnapshot],
    manifest: Manifest,
    *,
    timeout_s: float,
) -> None:
    """Write the aggregates' records, then (once all are acknowledged) the manifest."""
    sent = []
    for snapshot in aggregates:
        value = orjson.dumps(
            {
                "version": snapshot.version,
                "schema_version": snapshot.schema_version,
                "state": snapshot.state,
                "recent": snapshot.recent,
            }
        )
        sent.append(await producer.send(topic, value, key=snapshot.stream_id.encode()))
    await asyncio.wait_for(asyncio.gather(*sent), timeout_s + len(sent) / 10_000)
    body = {
        "offsets": {str(p): o for p, o in manifest.offsets.items()},
        "position": manifest.position,
        "run": manifest.run,
    }
    await asyncio.wait_for(
        await producer.send(topic, orjson.dumps(body), key=MANIFEST_KEY), timeout_s
    )
