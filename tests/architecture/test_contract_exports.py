import inspect

import pytest

import eskit.testing.contract as contract
from eskit.testing.contract import (
    CommandOutcomeContract,
    ConcurrencyContract,
    EventStoreContract,
    SnapshotContract,
    StoreContract,
    StoreUnderTest,
)

pytestmark = pytest.mark.unit


def test_all_names_exactly_the_exported_classes() -> None:
    classes = {name for name, value in vars(contract).items() if inspect.isclass(value)}

    assert (
        set(contract.__all__)
        == classes
        == {
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
        }
    )


def test_no_exported_class_is_collected_by_pytest_on_its_own() -> None:
    assert not [name for name in contract.__all__ if name.startswith("Test")]


def test_store_contract_is_all_four_contracts() -> None:
    parts = (EventStoreContract, SnapshotContract, CommandOutcomeContract, ConcurrencyContract)

    assert all(issubclass(StoreContract, part) for part in parts)
    assert all(issubclass(part, StoreUnderTest) for part in parts)
