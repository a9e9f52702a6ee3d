"""Properties of an investor's account that hold for any sequence of commands."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eskit.errors import DomainError
from invoice_financing.financing import (
    FundsDeposited,
    FundsReserved,
    FundsWithdrawn,
    InvestorAccount,
    InvestorAccountOpened,
)

pytestmark = pytest.mark.unit

Operation = tuple[str, int, int, str]
"""(kind, amount, bid number, currency)."""

operations = st.lists(
    st.tuples(
        st.sampled_from(["deposit", "withdraw", "bid", "release", "commit"]),
        st.integers(min_value=-5, max_value=600),
        st.integers(min_value=0, max_value=8),
        st.sampled_from(["EUR", "EUR", "EUR", "USD"]),
    ),
    max_size=80,
)


def decide(account: InvestorAccount, operation: Operation) -> None:
    kind, amount, bid, currency = operation
    if kind == "deposit":
        account.deposit(amount, currency)
    elif kind == "withdraw":
        account.withdraw(amount, currency)
    elif kind == "bid":
        account.bid(f"bid-{bid}", f"invoice-{bid % 3}", amount, currency)
    elif kind == "release":
        account.release(f"bid-{bid}", "lost")
    else:
        account.commit(f"bid-{bid}")


def run(ops: list[Operation]) -> InvestorAccount:
    """The account after ``ops``, refusals skipped, checking the invariant after each one."""
    account = InvestorAccount.open("investor-1", name="Ada", currency="EUR")
    for operation in ops:
        before = account.model_dump()
        try:
            decide(account, operation)
        except DomainError:
            assert account.model_dump() == before  # a refusal changes nothing
        check_invariant(account)
    return account


def check_invariant(account: InvestorAccount) -> None:
    paid_in = 0
    for event in account.pending_events:
        if isinstance(event, FundsDeposited):
            paid_in += event.amount
        elif isinstance(event, FundsWithdrawn):
            paid_in -= event.amount
    assert account.available >= 0
    assert account.reserved >= 0
    assert account.financed >= 0
    assert account.available + account.reserved + account.financed == paid_in
    assert account.reserved == sum(amount for _, amount in account.reservations.values())
    assert not set(account.reservations) & set(account.settled)


@settings(max_examples=400, deadline=None)
@given(ops=operations)
def test_the_money_is_always_what_was_paid_in_less_what_was_paid_out(
    ops: list[Operation],
) -> None:
    run(ops)


@settings(max_examples=200, deadline=None)
@given(ops=operations)
def test_replaying_the_events_gives_the_same_account(ops: list[Operation]) -> None:
    account = run(ops)
    replayed = InvestorAccount(id="investor-1")
    replayed.apply_all(account.pending_events)
    assert replayed.model_dump() == account.model_dump()


@settings(max_examples=200, deadline=None)
@given(ops=operations, cut=st.integers(min_value=1, max_value=81))
def test_a_snapshot_at_any_version_plus_later_events_equals_a_full_replay(
    ops: list[Operation], cut: int
) -> None:
    events = run(ops).pending_events
    assert isinstance(events[0], InvestorAccountOpened)
    cut = min(cut, len(events))
    head = InvestorAccount(id="investor-1")
    head.apply_all(events[:cut])
    restored = InvestorAccount.from_snapshot("investor-1", head.version, head.snapshot_state())
    restored.apply_all(events[cut:])
    full = InvestorAccount(id="investor-1")
    full.apply_all(events)
    assert restored.model_dump() == full.model_dump()


@settings(max_examples=200, deadline=None)
@given(ops=operations)
def test_every_bid_id_reserves_at_most_once(ops: list[Operation]) -> None:
    reserved = [e.bid_id for e in run(ops).pending_events if isinstance(e, FundsReserved)]
    assert len(reserved) == len(set(reserved))
