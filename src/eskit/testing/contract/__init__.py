"""The event store contract as pytest test-case classes, for adapters of the store port.

Subclass a contract under a name pytest collects (``Test...``) and implement ``make_store``;
every test then runs on the store it returns::

    class TestMyStore(StoreContract):
        def make_store(self, request, tmp_path):
            return MyStore.open(tmp_path / "events")

``StoreContract`` is all four contracts; ``EventStoreContract``, ``SnapshotContract``,
``CommandOutcomeContract`` and ``ConcurrencyContract`` can be run one by one. This package
imports pytest and pytest-asyncio (the ``dev`` extra); the tests run in pytest-asyncio's
strict mode as well as in its auto mode.
"""

import pytest

# before the contract modules are imported, so that a failing test shows what it compared
pytest.register_assert_rewrite(
    *(f"{__name__}.{module}" for module in ("concurrency", "event_store", "outcomes", "snapshots"))
)

from eskit.testing.contract.concurrency import ConcurrencyContract  # noqa: E402
from eskit.testing.contract.event_store import EventStoreContract  # noqa: E402
from eskit.testing.contract.hooks import StoreUnderTest  # noqa: E402
from eskit.testing.contract.outcomes import CommandOutcomeContract  # noqa: E402
from eskit.testing.contract.snapshots import SnapshotContract  # noqa: E402

__all__ = [
    "CommandOutcomeContract",
    "ConcurrencyContract",
    "EventStoreContract",
    "SnapshotContract",
    "StoreContract",
    "StoreUnderTest",
]


class StoreContract(
    EventStoreContract, SnapshotContract, CommandOutcomeContract, ConcurrencyContract
):
    """The whole contract of ``EventStoreBackend``: events, snapshots, outcomes, concurrency."""
