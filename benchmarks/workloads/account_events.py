"""The workloads' data: bank-account events, as plain fields and as eskit events.

Every contender writes the same fields: ``opened_data`` and ``deposit_data`` for the write
and load workloads; :func:`account_event` for the read side's log (catch-up, latency,
rebuild): per account an AccountOpened, then deposits, every fifth event a withdrawal
and every tenth an e-mail change. Every account of that log ends with the same balance
(:func:`expected_balance`) and e-mail (:func:`expected_email`), which is what the checks
compare.
"""

from __future__ import annotations

from typing import Any

from bank_accounts import AccountOpened, EmailChanged, MoneyDeposited, MoneyWithdrawn
from eskit.domain.events import Event
from eskit.store.port import EventStoreBackend

__all__ = [
    "CURRENCY",
    "DEPOSITED",
    "EMAIL_CHANGED",
    "OPENED",
    "STREAM_TYPE",
    "WITHDRAWAL",
    "WITHDRAWN",
    "account_event",
    "account_events",
    "deposit_data",
    "expected_balance",
    "expected_document",
    "expected_email",
    "opened_data",
    "preload_store",
    "stream_id",
]

STREAM_TYPE = "BankAccount"
CURRENCY = "USD"

OPENED, DEPOSITED, WITHDRAWN, EMAIL_CHANGED = (
    "AccountOpened",
    "MoneyDeposited",
    "MoneyWithdrawn",
    "EmailChanged",
)
"""Event kinds: eventsourcing's class names; eskit's types are ``bank_accounts.<kind>``."""

WITHDRAWAL = 50
"""Every withdrawal's amount: smaller than any deposit, so balances never go negative."""


def opened_data(index: int) -> dict[str, Any]:
    """The fields of an AccountOpened event."""
    return {
        "email": f"holder{index}@example.com",
        "address": f"{index} Main Street, Springfield",
        "first_name": "Ada",
        "last_name": f"Holder{index}",
        "balance": 0,
        "currency": CURRENCY,
        "status": "active",
    }


def deposit_data(index: int) -> dict[str, Any]:
    """The fields of the ``index``-th MoneyDeposited event of a stream."""
    return {"amount": 100 + index % 900, "currency": CURRENCY, "payment_id": f"pay-{index:08d}"}


# -- the read side's log ---------------------------------------------------------------------


def account_event(index: int, version: int) -> tuple[str, dict[str, Any]]:
    """The kind and fields of event ``version`` (from 1) of account ``index``'s stream."""
    if version == 1:
        return OPENED, opened_data(index)
    if version % 10 == 0:
        return EMAIL_CHANGED, {"email": f"holder{index}.v{version}@example.com"}
    if version % 5 == 0:
        return WITHDRAWN, {"amount": WITHDRAWAL, "currency": CURRENCY, "payment_id": f"w{version}"}
    return DEPOSITED, deposit_data(version)


def expected_balance(events_per_account: int) -> int:
    """The balance every account has after ``events_per_account`` events."""
    balance = 0
    for version in range(2, events_per_account + 1):
        kind, fields = account_event(0, version)
        if kind == DEPOSITED:
            balance += fields["amount"]
        elif kind == WITHDRAWN:
            balance -= fields["amount"]
    return balance


def expected_email(index: int, events_per_account: int) -> str:
    """Account ``index``'s e-mail address after ``events_per_account`` events."""
    last_change = events_per_account - events_per_account % 10
    if last_change < 10:
        return str(opened_data(index)["email"])
    return f"holder{index}.v{last_change}@example.com"


def expected_document(
    index: int, events_per_account: int, created_at: str, updated_at: str
) -> dict[str, Any]:
    """Account ``index``'s document in ``AccountsById`` after ``events_per_account`` events
    (the times as ``bank_accounts.projections.utc_timestamp`` writes them)."""
    opened = opened_data(index)
    return {
        "account_id": stream_id(index),
        "email": expected_email(index, events_per_account),
        "address": opened["address"],
        "first_name": opened["first_name"],
        "last_name": opened["last_name"],
        "balance": expected_balance(events_per_account),
        "currency": opened["currency"],
        "status": opened["status"],
        "version": events_per_account,
        "created_at": created_at,
        "updated_at": updated_at,
    }


def stream_id(index: int) -> str:
    """Account ``index``'s stream in eskit's log."""
    return f"acct-{index:06d}"


_ESKIT_CLASSES: dict[str, type[Event]] = {
    OPENED: AccountOpened,
    DEPOSITED: MoneyDeposited,
    WITHDRAWN: MoneyWithdrawn,
    EMAIL_CHANGED: EmailChanged,
}


def account_events(index: int, events_per_account: int) -> list[Event]:
    """Account ``index``'s stream as eskit events."""
    return [
        _ESKIT_CLASSES[kind](**fields)
        for kind, fields in (account_event(index, v) for v in range(1, events_per_account + 1))
    ]


async def preload_store(
    store: EventStoreBackend, n_accounts: int, events_per_account: int, *, first: int = 0
) -> int:
    """Accounts ``first .. first + n_accounts - 1`` (stream :func:`stream_id`), one append
    each; returns the number of events written."""
    for index in range(first, first + n_accounts):
        await store.append(
            stream_id(index),
            account_events(index, events_per_account),
            expected_version=0,
            stream_type=STREAM_TYPE,
        )
    return n_accounts * events_per_account
