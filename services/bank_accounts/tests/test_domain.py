"""The bank-account rules, and properties that hold for any sequence of commands."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bank_accounts import (
    MAX_BALANCE,
    BalanceLimitError,
    BankAccount,
    InsufficientFundsError,
    InvalidAmountError,
    InvalidEmailError,
    PaymentConflictError,
)
from bank_accounts.domain import AccountOpened, EmailChanged, MoneyDeposited, MoneyWithdrawn
from eskit.errors import DomainError

pytestmark = pytest.mark.unit


def account(balance: int = 100) -> BankAccount:
    return BankAccount.open(
        "acc",
        email="a@example.com",
        address="1 Road",
        first_name="A",
        last_name="B",
        balance=balance,
        currency="EUR",
    )


def test_opening_records_the_holder_and_opening_balance() -> None:
    opened = account(250)
    assert opened.pending_events == (
        AccountOpened(
            email="a@example.com",
            address="1 Road",
            first_name="A",
            last_name="B",
            balance=250,
            currency="EUR",
            status="active",
        ),
    )
    assert opened.version == 1


def test_a_negative_opening_balance_is_refused() -> None:
    with pytest.raises(InvalidAmountError):
        account(-1)


@pytest.mark.parametrize("amount", [0, -5, 1.5, True])
def test_deposits_must_be_positive_integers(amount: object) -> None:
    with pytest.raises(InvalidAmountError):
        account().deposit(amount, "p")  # type: ignore[arg-type]


def test_deposit_adds_to_the_balance_in_the_account_currency() -> None:
    acc = account()
    acc.deposit(50, "p1")
    assert acc.balance == 150
    assert acc.pending_events[-1] == MoneyDeposited(amount=50, currency="EUR", payment_id="p1")


def test_withdrawing_more_than_the_balance_raises_insufficient_funds_error() -> None:
    acc = account(100)
    with pytest.raises(InsufficientFundsError):
        acc.withdraw(101, "w")
    assert acc.balance == 100


def test_withdrawing_the_whole_balance_leaves_zero() -> None:
    acc = account(100)
    acc.withdraw(100, "w")
    assert acc.balance == 0
    assert acc.pending_events[-1] == MoneyWithdrawn(amount=100, currency="EUR", payment_id="w")


def test_the_same_payment_twice_changes_nothing() -> None:
    acc = account()
    acc.deposit(10, "p")
    acc.deposit(10, "p")
    assert acc.balance == 110
    assert acc.version == 2


def test_the_same_payment_id_with_another_amount_is_a_conflict() -> None:
    acc = account()
    acc.deposit(10, "p")
    with pytest.raises(PaymentConflictError):
        acc.deposit(11, "p")
    with pytest.raises(PaymentConflictError):
        acc.withdraw(10, "p")


def test_change_email_requires_a_valid_address() -> None:
    acc = account()
    with pytest.raises(InvalidEmailError):
        acc.change_email("not-an-address")
    acc.change_email("new@example.com")
    assert acc.pending_events[-1] == EmailChanged(email="new@example.com")


operations = st.lists(
    st.tuples(
        st.sampled_from(["deposit", "withdraw", "email"]),
        st.integers(min_value=-5, max_value=500),
        st.integers(min_value=0, max_value=15),
    ),
    max_size=60,
)


def run(opening: int, ops: list[tuple[str, int, int]]) -> BankAccount:
    acc = account(opening)
    for kind, amount, payment in ops:
        try:
            if kind == "deposit":
                acc.deposit(amount, f"p{payment}")
            elif kind == "withdraw":
                acc.withdraw(amount, f"p{payment}")
            else:
                acc.change_email(f"user{payment}@example.com")
        except DomainError:
            pass
        assert acc.balance >= 0
    return acc


@settings(max_examples=300, deadline=None)
@given(opening=st.integers(min_value=0, max_value=1000), ops=operations)
def test_the_balance_never_goes_negative_and_equals_the_fold_of_its_events(
    opening: int, ops: list[tuple[str, int, int]]
) -> None:
    acc = run(opening, ops)
    expected = 0
    for event in acc.pending_events:
        if isinstance(event, AccountOpened):
            expected = event.balance
        elif isinstance(event, MoneyDeposited):
            expected += event.amount
        elif isinstance(event, MoneyWithdrawn):
            expected -= event.amount
        assert expected >= 0
    assert acc.balance == expected
    replayed = BankAccount(id="acc")
    replayed.apply_all(acc.pending_events)
    assert replayed.model_dump() == acc.model_dump()


@settings(max_examples=200, deadline=None)
@given(
    opening=st.integers(min_value=0, max_value=1000),
    ops=operations,
    cut=st.integers(min_value=1, max_value=61),
)
def test_a_snapshot_at_any_version_plus_later_events_equals_a_full_replay(
    opening: int, ops: list[tuple[str, int, int]], cut: int
) -> None:
    events = run(opening, ops).pending_events
    cut = min(cut, len(events))
    head = BankAccount(id="acc")
    head.apply_all(events[:cut])
    restored = BankAccount.from_snapshot("acc", head.version, head.snapshot_state())
    restored.apply_all(events[cut:])
    full = BankAccount(id="acc")
    full.apply_all(events)
    assert restored.model_dump() == full.model_dump()


def test_a_deposit_up_to_the_largest_balance_is_accepted() -> None:
    acc = account(MAX_BALANCE - 5)
    acc.deposit(5, "p")
    assert acc.balance == MAX_BALANCE


def test_a_deposit_past_the_largest_balance_raises_balance_limit_error() -> None:
    acc = account(MAX_BALANCE - 5)
    with pytest.raises(BalanceLimitError) as refused:
        acc.deposit(6, "p")
    assert refused.value.code == "balance_limit"
    assert (acc.balance, acc.version, len(acc.pending_events)) == (MAX_BALANCE - 5, 1, 1)


def test_an_opening_balance_past_the_largest_balance_raises_balance_limit_error() -> None:
    assert account(MAX_BALANCE).balance == MAX_BALANCE
    with pytest.raises(BalanceLimitError):
        account(MAX_BALANCE + 1)
