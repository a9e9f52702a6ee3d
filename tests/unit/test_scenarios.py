import pytest

from bank_accounts import (
    AccountOpened,
    BankAccount,
    InsufficientFundsError,
    MoneyDeposited,
    MoneyWithdrawn,
)
from eskit.testing import AggregateScenario

pytestmark = pytest.mark.unit

scenario = AggregateScenario(BankAccount, "acc")


def opened(balance: int) -> AccountOpened:
    return AccountOpened(
        email="a@example.com",
        address="",
        first_name="A",
        last_name="B",
        balance=balance,
        currency="USD",
        status="active",
    )


def test_then_passes_when_the_recorded_events_match() -> None:
    account = (
        scenario.given(opened(100))
        .when(lambda a: a.withdraw(30, "w"))
        .then(MoneyWithdrawn(amount=30, currency="USD", payment_id="w"))
    )
    assert account.balance == 70


def test_then_fails_with_both_lists_when_the_events_differ() -> None:
    outcome = scenario.given(opened(100)).when(lambda a: a.withdraw(30, "w"))
    with pytest.raises(AssertionError, match="recorded events differ"):
        outcome.then(MoneyWithdrawn(amount=31, currency="USD", payment_id="w"))


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
    history = (opened(0), MoneyDeposited(amount=5, currency="USD", payment_id="p"))
    scenario.given(*history).when(lambda a: a.deposit(5, "p")).then_nothing()


def test_a_factory_decision_yields_the_created_aggregates_events() -> None:
    scenario.given().when(
        lambda _: BankAccount.open(
            "acc", email="a@example.com", address="", first_name="A", last_name="B", balance=3
        )
    ).then(opened(3))
