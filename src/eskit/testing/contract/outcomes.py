"""What every command outcome store must do: remember the first outcome of each command."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from eskit.store import CommandOutcome, EventStoreBackend
from eskit.testing.contract.hooks import StoreUnderTest

__all__ = ["CommandOutcomeContract"]


def _outcome(command_id: uuid.UUID, version: int = 3, fingerprint: str = "f-1") -> CommandOutcome:
    return CommandOutcome(command_id, "cart-1", version, 40 + version, fingerprint)


class CommandOutcomeContract(StoreUnderTest):
    """Recording and finding command outcomes: the first one of a command wins, even racing."""

    async def test_an_unknown_command_has_no_outcome(self, store: EventStoreBackend) -> None:
        assert await store.find_outcome(uuid.uuid4()) is None

    async def test_a_recorded_outcome_is_found_by_its_command_id(
        self, store: EventStoreBackend
    ) -> None:
        command_id = uuid.uuid4()
        before = datetime.now(UTC)

        kept = await store.record_outcome(_outcome(command_id))
        found = await store.find_outcome(command_id)

        assert found == kept
        assert (found.command_id, found.stream_id, found.version, found.position) == (
            command_id,
            "cart-1",
            3,
            43,
        )
        assert found.fingerprint == "f-1"
        assert found.recorded_at is not None
        assert before - timedelta(seconds=1) <= found.recorded_at <= datetime.now(UTC)
        assert await store.find_outcome(uuid.uuid4()) is None

    async def test_the_first_outcome_of_a_command_wins(self, store: EventStoreBackend) -> None:
        command_id = uuid.uuid4()
        first = await store.record_outcome(_outcome(command_id, 3, "f-1"))

        second = await store.record_outcome(_outcome(command_id, 5, "f-2"))

        assert second == first
        assert await store.find_outcome(command_id) == first

    async def test_outcomes_are_kept_per_command(self, store: EventStoreBackend) -> None:
        one, two = uuid.uuid4(), uuid.uuid4()
        await store.record_outcome(_outcome(one, 3))
        await store.record_outcome(_outcome(two, 7))

        found = [await store.find_outcome(i) for i in (one, two)]

        assert [o.version for o in found if o is not None] == [3, 7]

    async def test_racing_outcomes_of_one_command_agree_on_the_first(
        self, store: EventStoreBackend
    ) -> None:
        command_id = uuid.uuid4()

        kept = await asyncio.gather(
            *(store.record_outcome(_outcome(command_id, v, f"f-{v}")) for v in range(1, 21))
        )

        assert len(set(kept)) == 1
        assert await store.find_outcome(command_id) == kept[0]
