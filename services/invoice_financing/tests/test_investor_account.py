"""An investor's account: deposits, withdrawals, and the reservations bids make."""

import pytest

from eskit.domain import Event
from eskit.testing.scenarios import AggregateScenario
from invoice_financing.financing import (
    MAX_HOLDINGS,
    BalanceLimitError,
    CurrencyMismatchError,
    FundsCommitted,
    FundsDeposited,
    FundsReleased,
    FundsReserved,
    FundsWithdrawn,
    InsufficientFundsError,
    InvalidAmountError,
    InvestorAccount,
    InvestorAccountOpened,
)

pytestmark = pytest.mark.unit

scenario = AggregateScenario(InvestorAccount, "investor-1")
OPENED = InvestorAccountOpened(name="Ada", currency="EUR")
FUNDED = FundsDeposited(amount=1000)
RESERVED = FundsReserved(bid_id="bid-1", invoice_id="invoice-1", amount=300, currency="EUR")


def balances(account: InvestorAccount) -> tuple[int, int, int]:
    return account.available, account.reserved, account.financed


# -- opening ---------------------------------------------------------------------------------


def test_opening_records_the_name_and_currency() -> None:
    account = (
        scenario.given()
        .when(lambda _: InvestorAccount.open("investor-1", name="Ada", currency="USD"))
        .then(InvestorAccountOpened(name="Ada", currency="USD"))
    )
    assert (account.name, account.currency, balances(account)) == ("Ada", "USD", (0, 0, 0))


def test_an_account_holds_euros_unless_told_otherwise() -> None:
    scenario.given().when(lambda _: InvestorAccount.open("investor-1", name="Ada")).then(OPENED)


# -- deposits and withdrawals ----------------------------------------------------------------


def test_a_deposit_adds_to_what_is_available() -> None:
    account = (
        scenario.given(OPENED)
        .when(lambda a: a.deposit(250, "EUR"))
        .then(FundsDeposited(amount=250))
    )
    assert balances(account) == (250, 0, 0)


def test_a_withdrawal_takes_from_what_is_available() -> None:
    account = (
        scenario.given(OPENED, FUNDED)
        .when(lambda a: a.withdraw(1000, "EUR"))
        .then(FundsWithdrawn(amount=1000))
    )
    assert balances(account) == (0, 0, 0)


def test_withdrawing_more_than_is_available_is_refused_naming_both() -> None:
    refused = (
        scenario.given(OPENED, FUNDED, RESERVED)
        .when(lambda a: a.withdraw(701, "EUR"))
        .then_raises(InsufficientFundsError, match="700 available, asked for 701")
    )
    assert (refused.code, refused.available, refused.amount) == ("insufficient_funds", 700, 701)


@pytest.mark.parametrize("amount", [0, -5, 1.5, True])  # 1.5: not an integer, as JSON may say
def test_amounts_must_be_positive_integers(amount: int) -> None:
    given = scenario.given(OPENED, FUNDED)
    refused = given.when(lambda a: a.deposit(amount, "EUR")).then_raises(InvalidAmountError)
    assert refused.code == "invalid_amount"
    given = scenario.given(OPENED, FUNDED)
    given.when(lambda a: a.withdraw(amount, "EUR")).then_raises(InvalidAmountError)
    given = scenario.given(OPENED, FUNDED)
    given.when(lambda a: a.bid("b", "i", amount, "EUR")).then_raises(InvalidAmountError)


def test_money_in_another_currency_is_refused() -> None:
    for decision in (
        lambda a: a.deposit(10, "USD"),
        lambda a: a.withdraw(10, "USD"),
        lambda a: a.bid("bid-2", "invoice-2", 10, "USD"),
    ):
        refused = scenario.given(OPENED, FUNDED).when(decision).then_raises(CurrencyMismatchError)
        assert (refused.code, refused.expected, refused.given) == (
            "currency_mismatch",
            "EUR",
            "USD",
        )


def test_a_deposit_past_the_most_an_investor_may_hold_is_refused() -> None:
    almost = FundsDeposited(amount=MAX_HOLDINGS - 10)
    scenario.given(OPENED, almost).when(lambda a: a.deposit(10, "EUR")).then(
        FundsDeposited(amount=10)
    )
    refused = (
        scenario.given(
            OPENED, almost, FundsReserved(bid_id="b", invoice_id="i", amount=5, currency="EUR")
        )
        .when(lambda a: a.deposit(11, "EUR"))
        .then_raises(BalanceLimitError)
    )
    assert refused.code == "balance_limit"


# -- bids ------------------------------------------------------------------------------------


def test_a_bid_moves_its_amount_from_available_to_reserved() -> None:
    account = (
        scenario.given(OPENED, FUNDED)
        .when(lambda a: a.bid("bid-1", "invoice-1", 300, "EUR"))
        .then(RESERVED)
    )
    assert balances(account) == (700, 300, 0)
    assert account.reservations == {"bid-1": ("invoice-1", 300)}


def test_a_bid_of_everything_available_is_accepted() -> None:
    account = (
        scenario.given(OPENED, FUNDED)
        .when(lambda a: a.bid("bid-1", "invoice-1", 1000, "EUR"))
        .then(FundsReserved(bid_id="bid-1", invoice_id="invoice-1", amount=1000, currency="EUR"))
    )
    assert balances(account) == (0, 1000, 0)


def test_a_bid_larger_than_what_is_available_is_refused() -> None:
    refused = (
        scenario.given(OPENED, FUNDED, RESERVED)
        .when(lambda a: a.bid("bid-2", "invoice-2", 701, "EUR"))
        .then_raises(InsufficientFundsError)
    )
    assert (refused.available, refused.amount) == (700, 701)


def test_the_same_bid_again_changes_nothing_whether_open_or_settled() -> None:
    repeat = lambda a: a.bid("bid-1", "invoice-1", 300, "EUR")  # noqa: E731
    scenario.given(OPENED, FUNDED, RESERVED).when(repeat).then_nothing()
    released = FundsReleased(bid_id="bid-1", invoice_id="invoice-1", amount=300, reason="lost")
    scenario.given(OPENED, FUNDED, RESERVED, released).when(repeat).then_nothing()
    committed = FundsCommitted(bid_id="bid-1", invoice_id="invoice-1", amount=300)
    scenario.given(OPENED, FUNDED, RESERVED, committed).when(repeat).then_nothing()


def test_a_repeated_bid_is_answered_before_funds_are_checked() -> None:
    everything = FundsReserved(bid_id="bid-1", invoice_id="invoice-1", amount=1000, currency="EUR")
    scenario.given(OPENED, FUNDED, everything).when(
        lambda a: a.bid("bid-1", "invoice-1", 1000, "EUR")
    ).then_nothing()


# -- releasing and committing ----------------------------------------------------------------


def test_releasing_a_reserved_bid_gives_the_money_back() -> None:
    account = (
        scenario.given(OPENED, FUNDED, RESERVED)
        .when(lambda a: a.release("bid-1", "amount_mismatch"))
        .then(
            FundsReleased(
                bid_id="bid-1", invoice_id="invoice-1", amount=300, reason="amount_mismatch"
            )
        )
    )
    assert balances(account) == (1000, 0, 0)
    assert account.reservations == {}
    assert account.settled == {"bid-1": "released"}


def test_committing_a_reserved_bid_turns_it_into_financing() -> None:
    account = (
        scenario.given(OPENED, FUNDED, RESERVED)
        .when(lambda a: a.commit("bid-1"))
        .then(FundsCommitted(bid_id="bid-1", invoice_id="invoice-1", amount=300))
    )
    assert balances(account) == (700, 0, 300)
    assert account.settled == {"bid-1": "committed"}


def test_releasing_or_committing_a_bid_that_is_not_reserved_changes_nothing() -> None:
    released = FundsReleased(bid_id="bid-1", invoice_id="invoice-1", amount=300, reason="x")
    committed = FundsCommitted(bid_id="bid-1", invoice_id="invoice-1", amount=300)
    histories: list[tuple[Event, ...]] = [
        (OPENED, FUNDED),  # never reserved
        (OPENED, FUNDED, RESERVED, released),
        (OPENED, FUNDED, RESERVED, committed),
    ]
    for history in histories:
        scenario.given(*history).when(lambda a: a.release("bid-1", "again")).then_nothing()
        scenario.given(*history).when(lambda a: a.commit("bid-1")).then_nothing()
    scenario.given(OPENED, FUNDED, RESERVED).when(lambda a: a.commit("unknown")).then_nothing()


def test_event_type_names() -> None:
    assert InvestorAccount.stream_type == "financing.Investor"
    assert [e.event_type for e in (OPENED, FUNDED, RESERVED)] == [
        "financing.InvestorAccountOpened",
        "financing.FundsDeposited",
        "financing.FundsReserved",
    ]
