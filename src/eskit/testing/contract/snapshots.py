"""What every snapshot store must do: keep the newest snapshot of each stream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from eskit.store import EventStoreBackend, Snapshot
from eskit.testing.contract.hooks import StoreUnderTest

__all__ = ["SnapshotContract"]


def _snapshot(version: int, state: dict[str, Any] | None = None) -> Snapshot:
    return Snapshot(
        stream_id="cart-1",
        stream_type="cart",
        version=version,
        schema_version=2,
        state=state if state is not None else {"version": version, "items": ["a", "ß"]},
    )


class SnapshotContract(StoreUnderTest):
    """Saving and loading snapshots: every field kept, the newest wins, one per stream."""

    async def test_load_snapshot_of_stream_without_one_is_none(
        self, store: EventStoreBackend
    ) -> None:
        assert await store.load_snapshot("cart-1") is None

    async def test_saved_snapshot_loads_with_every_field(self, store: EventStoreBackend) -> None:
        await store.save_snapshot(_snapshot(5, {"total": {"amount": "1.50"}, "lines": [1, 2]}))

        loaded = await store.load_snapshot("cart-1")

        assert loaded is not None
        assert (loaded.stream_id, loaded.stream_type, loaded.version, loaded.schema_version) == (
            "cart-1",
            "cart",
            5,
            2,
        )
        assert loaded.state == {"total": {"amount": "1.50"}, "lines": [1, 2]}

    async def test_loaded_snapshot_has_a_utc_recording_time(self, store: EventStoreBackend) -> None:
        before = datetime.now(UTC)
        await store.save_snapshot(_snapshot(5))

        loaded = await store.load_snapshot("cart-1")

        assert loaded is not None
        assert loaded.recorded_at is not None
        assert loaded.recorded_at.utcoffset() == timedelta(0)
        assert abs(loaded.recorded_at - before) < timedelta(seconds=5)

    async def test_newer_snapshot_replaces_older_one(self, store: EventStoreBackend) -> None:
        await store.save_snapshot(_snapshot(5))
        await store.save_snapshot(_snapshot(9))

        loaded = await store.load_snapshot("cart-1")

        assert loaded is not None
        assert (loaded.version, loaded.state["version"]) == (9, 9)

    async def test_older_snapshot_never_replaces_newer_one(self, store: EventStoreBackend) -> None:
        await store.save_snapshot(_snapshot(9))
        await store.save_snapshot(_snapshot(5))

        loaded = await store.load_snapshot("cart-1")

        assert loaded is not None
        assert (loaded.version, loaded.state["version"]) == (9, 9)

    async def test_snapshots_are_kept_per_stream(self, store: EventStoreBackend) -> None:
        await store.save_snapshot(_snapshot(9))
        await store.save_snapshot(
            Snapshot(stream_id="cart-2", stream_type="cart", version=1, schema_version=1, state={})
        )

        one, two = await store.load_snapshot("cart-1"), await store.load_snapshot("cart-2")

        assert one is not None
        assert two is not None
        assert (one.version, two.version) == (9, 1)
