import pytest

from eskit.testing import AggregateScenario
from tests.wallets.domain import (
    Deposited,
    InsufficientFundsError,
    Wallet,
    WalletOpened,
    Withdrawn,
)

pytestmark = pytest.mark.unit

scenario = AggregateScenario(Wallet, "acc")


def opened(balance: int) -> WalletOpened:
    return WalletOpened(owner="Ada", balance=balance)


def test_then_passes_when_the_recorded_events_match() -> None:
    wallet = (
        scenario.given(opened(100))
        .when(lambda a: a.withdraw(30, "w"))
        .then(Withdrawn(amount=30, payment_id="w"))
    )
    assert wallet.balance == 70


def test_then_fails_with_both_lists_when_the_events_differ() -> None:
    outcome = scenario.given(opened(100)).when(lambda a: a.withdraw(30, "w"))
    with pytest.raises(AssertionError, match="recorded events differ"):
        outcome.then(Withdrawn(amount=31, payment_id="w"))


def test_then_raises_checks_type_and_message() -> None:
    error = (
        scenario.given(opened(10))
        .when(lambda a: a.withdraw(30, "w"))
        .then_raises(InsufficientFundsError, match="cannot pay out 30")
    )
    assert error.balance == 10


def test_then_raises_fails_when_the_decision_succeeds() -> None:
    with pytest.raises(AssertionError, match="expected InsufficientFundsError"):
        scenario.given(opened(100)).when(lambda a: a.withdraw(30, "w")).then_raises(
            InsufficientFundsError
        )


def test_then_nothing_for_a_repeated_payment() -> None:
    history = (opened(0), Deposited(amount=5, payment_id="p"))
    scenario.given(*history).when(lambda a: a.deposit(5, "p")).then_nothing()


def test_a_factory_decision_yields_the_created_aggregates_events() -> None:
    scenario.given().when(lambda _: Wallet.open("acc", owner="Ada", balance=3)).then(opened(3))
