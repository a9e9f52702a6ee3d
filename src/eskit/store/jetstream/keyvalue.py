"""Snapshots and command outcomes in JetStream key-value buckets.

A snapshot replaces an older one with a compare-and-set on the key's revision, so a
slow writer never puts back an older state; an outcome is created once, and the first
one kept wins.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from eskit.store.jetstream.subjects import kv_key
from eskit.store.records import CommandOutcome, Snapshot

__all__ = ["OutcomeBucket", "SnapshotBucket"]


class SnapshotBucket:
    """The latest snapshot of each stream."""

    def __init__(self, bucket: KeyValue) -> None:
        self._bucket = bucket

    async def save(self, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` unless a newer one of its stream is kept."""
        if snapshot.recorded_at is None:
            snapshot = dataclasses.replace(snapshot, recorded_at=datetime.now(UTC))
        key, value = kv_key(snapshot.stream_id), _snapshot_json(snapshot)
        while True:
            try:
                current = await self._bucket.get(key)
            except KeyNotFoundError:
                try:
                    await self._bucket.create(key, value)
                    return
                except KeyWrongLastSequenceError:
                    continue  # another writer created it first: compare with theirs
            if current.value and _snapshot(current.value).version > snapshot.version:
                return
            try:
                await self._bucket.update(key, value, last=current.revision)
                return
            except KeyWrongLastSequenceError:
                continue

    async def load(self, stream_id: str) -> Snapshot | None:
        """The stream's snapshot, if any."""
        try:
            entry = await self._bucket.get(kv_key(stream_id))
        except KeyNotFoundError:
            return None
        return _snapshot(entry.value) if entry.value else None


class OutcomeBucket:
    """Outcomes of commands that recorded no event, by command id."""

    def __init__(self, bucket: KeyValue) -> None:
        self._bucket = bucket

    async def record(self, outcome: CommandOutcome) -> CommandOutcome:
        """Keep ``outcome`` unless one is kept for its command already; the one kept."""
        if outcome.recorded_at is None:
            outcome = dataclasses.replace(outcome, recorded_at=datetime.now(UTC))
        try:
            await self._bucket.create(str(outcome.command_id), _outcome_json(outcome))
        except KeyWrongLastSequenceError:
            kept = await self.find(outcome.command_id)
            if kept is not None:
                return kept
            raise
        return outcome

    async def find(self, command_id: uuid.UUID) -> CommandOutcome | None:
        """The outcome kept for ``command_id``, if any."""
        try:
            entry = await self._bucket.get(str(command_id))
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        fields = orjson.loads(entry.value)
        return CommandOutcome(
            command_id=uuid.UUID(fields["command_id"]),
            stream_id=fields["stream_id"],
            version=fields["version"],
            position=fields["position"],
            fingerprint=fields["fingerprint"],
            recorded_at=datetime.fromisoformat(fields["recorded_at"]),
        )


def _snapshot_json(snapshot: Snapshot) -> bytes:
    fields: dict[str, Any] = dataclasses.asdict(snapshot)
    fields["recorded_at"] = snapshot.recorded_at.isoformat() if snapshot.recorded_at else None
    return orjson.dumps(fields)


def _snapshot(value: bytes) -> Snapshot:
    fields = orjson.loads(value)
    recorded = fields.pop("recorded_at")
    return Snapshot(**fields, recorded_at=datetime.fromisoformat(recorded) if recorded else None)


def _outcome_json(outcome: CommandOutcome) -> bytes:
    fields: dict[str, Any] = dataclasses.asdict(outcome)
    fields["command_id"] = str(outcome.command_id)
    fields["recorded_at"] = outcome.recorded_at.isoformat() if outcome.recorded_at else None
    return orjson.dumps(fields)
