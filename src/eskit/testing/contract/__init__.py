"""The event store contract as pytest test-case classes, for adapters of the store port.

Subclass a contract under a name pytest collects (``Test...``) and implement ``make_store``;
every test then runs on the store it returns::

    class TestMyStore(StoreContract):
        def make_store(self, request, tmp_path):
            return MyStore.open(tmp_path / "events")

``StoreContract`` is all four contracts of the event store port; ``EventStoreContract``,
``SnapshotContract``, ``CommandOutcomeContract`` and ``ConcurrencyContract`` can be run one
by one. A store with transactions (``store.capabilities.transactions``) runs
``TransactionalStoreContract``: those four, plus ``UnitOfWorkContract`` (appends,
checkpoints, parked events and processed ids committed as one), the command queue
(``QueueContract``), saga instances (``SagaContract``), leases (``LeaseContract``) and
the read models on its rows (``TableContract``, ``DocumentContract``, ``SearchContract``).
A store an operator's console browses runs ``LogBrowserContract`` too. This package
imports pytest and pytest-asyncio (the ``dev`` extra); the tests run in
pytest-asyncio's strict mode as well as in its auto mode.
"""

import pytest

# before the contract modules are imported, so that a failing test shows what it compared
pytest.register_assert_rewrite(
    *(
        f"{__name__}.{module}"
        for module in (
            "_read_models",
            "browsing",
            "concurrency",
            "event_store",
            "leases",
            "outcomes",
            "queue",
            "sagas",
            "search",
            "snapshots",
            "tables",
            "unit_of_work",
        )
    )
)

from eskit.testing.contract.browsing import LogBrowserContract  # noqa: E402
from eskit.testing.contract.concurrency import ConcurrencyContract  # noqa: E402
from eskit.testing.contract.event_store import EventStoreContract  # noqa: E402
from eskit.testing.contract.hooks import StoreUnderTest, TransactionalStoreUnderTest  # noqa: E402
from eskit.testing.contract.leases import LeaseContract  # noqa: E402
from eskit.testing.contract.outcomes import CommandOutcomeContract  # noqa: E402
from eskit.testing.contract.queue import QueueContract  # noqa: E402
from eskit.testing.contract.sagas import SagaContract  # noqa: E402
from eskit.testing.contract.search import SearchContract  # noqa: E402
from eskit.testing.contract.snapshots import SnapshotContract  # noqa: E402
from eskit.testing.contract.tables import DocumentContract, TableContract  # noqa: E402
from eskit.testing.contract.unit_of_work import UnitOfWorkContract  # noqa: E402

__all__ = [
    "CommandOutcomeContract",
    "ConcurrencyContract",
    "DocumentContract",
    "EventStoreContract",
    "LeaseContract",
    "LogBrowserContract",
    "QueueContract",
    "SagaContract",
    "SearchContract",
    "SnapshotContract",
    "StoreContract",
    "StoreUnderTest",
    "TableContract",
    "TransactionalStoreContract",
    "TransactionalStoreUnderTest",
    "UnitOfWorkContract",
]


class StoreContract(
    EventStoreContract, SnapshotContract, CommandOutcomeContract, ConcurrencyContract
):
    """The whole contract of ``EventStoreBackend``: events, snapshots, outcomes, concurrency."""


class TransactionalStoreContract(
    StoreContract,
    UnitOfWorkContract,
    QueueContract,
    SagaContract,
    LeaseContract,
    TableContract,
    DocumentContract,
    SearchContract,
):
    """The whole contract of a ``TransactionalStore``: the store port, the unit of work, the
    command queue, saga instances, leases, and the read models kept in its rows."""
