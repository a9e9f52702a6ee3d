"""The bank-account read side: account documents by id, and a search index.

``AccountsById`` keeps one document per account (owner, e-mail, balance, version) and
``AccountSearch`` one search entry (name, e-mail, balance); both are the same fold of an
account's events into a differently shaped entry.

The documents must never skip an event (a query by id would show a wrong balance as
current), so ``AccountsById`` stops at an event it cannot handle. The search index parks
such an event after five attempts and goes on: one bad account must not keep every other
account's changes out of search.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from bank_accounts.domain import (
    AccountOpened,
    BankAccount,
    EmailChanged,
    MoneyDeposited,
    MoneyWithdrawn,
)
from eskit.projections import (
    DocumentCollection,
    FailurePolicy,
    Projection,
    ProjectionContext,
    handles,
)
from eskit.projections.projection import Bindable
from eskit.projections.search import SearchIndex
from eskit.store import StoredEvent

__all__ = [
    "ACCOUNTS",
    "ACCOUNT_SEARCH",
    "AccountSearch",
    "AccountsById",
    "account_document",
    "opened_document",
    "projections",
    "search_entry",
    "utc_timestamp",
]

ACCOUNTS = DocumentCollection("bank_accounts_by_id")
"""Account documents: ``id`` is the account id."""

ACCOUNT_SEARCH = SearchIndex(
    "bank_accounts_search", text_fields=("name", "email"), sort_fields={"balance": int}
)
"""Accounts found by words of the owner's name or e-mail (prefixes), sortable by balance."""


class _Entries(Protocol):
    """What both read models' writers offer: entries by account id."""

    async def load_many(self, ids: Iterable[str]) -> None: ...
    async def get(self, doc_id: str) -> dict[str, Any] | None: ...
    async def put(self, doc_id: str, body: dict[str, Any]) -> None: ...


class _AccountView(Projection):
    """One entry per account in ``model``, in the shape :meth:`shape` gives it.

    Entries are read for a whole batch in one query (``prefetch``) and each changed one is
    written once. Events an entry already holds (its ``version``) are skipped.
    """

    stream_types = ("BankAccount",)
    model: ClassVar[Bindable[_Entries]]

    def shape(self, document: dict[str, Any]) -> dict[str, Any]:
        """The entry kept for an account ``document``."""
        return document

    async def prefetch(self, ctx: ProjectionContext, events: Sequence[StoredEvent]) -> None:
        """Load the batch's entries in one query."""
        await ctx.writer(self.model).load_many(e.stream_id for e in events)

    @handles(AccountOpened)
    async def opened(self, event: AccountOpened, ctx: ProjectionContext) -> None:
        """A new entry."""
        record = ctx.event
        entries = ctx.writer(self.model)
        if _already_has(await entries.get(record.stream_id), record.version):
            return
        document = opened_document(
            record.stream_id, event, record.version, utc_timestamp(record.recorded_at)
        )
        await entries.put(record.stream_id, self.shape(document))

    @handles(MoneyDeposited)
    async def deposited(self, event: MoneyDeposited, ctx: ProjectionContext) -> None:
        """Balance up."""
        await self._change(ctx, balance=event.amount)

    @handles(MoneyWithdrawn)
    async def withdrawn(self, event: MoneyWithdrawn, ctx: ProjectionContext) -> None:
        """Balance down."""
        await self._change(ctx, balance=-event.amount)

    @handles(EmailChanged)
    async def email_changed(self, event: EmailChanged, ctx: ProjectionContext) -> None:
        """New e-mail address."""
        await self._change(ctx, email=event.email)

    async def _change(
        self, ctx: ProjectionContext, *, balance: int = 0, email: str | None = None
    ) -> None:
        record = ctx.event
        entries = ctx.writer(self.model)
        entry = await entries.get(record.stream_id)
        if entry is None:  # the log says the account exists: a missing entry is a bug
            raise LookupError(f"account {record.stream_id} has no {self.model.name} entry")
        if _already_has(entry, record.version):
            return
        entry["balance"] += balance  # the batch's own copy: change it, then put it back
        entry["version"] = record.version
        entry["updated_at"] = utc_timestamp(record.recorded_at)
        if email is not None:
            entry["email"] = email
        await entries.put(record.stream_id, entry)


class AccountsById(_AccountView):
    """One document per account, as a query by id wants it."""

    name = "bank_accounts_by_id"
    read_models = (ACCOUNTS,)
    model = ACCOUNTS


class AccountSearch(_AccountView):
    """The search side: name, e-mail and balance of every account."""

    name = "bank_accounts_search"
    read_models = (ACCOUNT_SEARCH,)
    model = ACCOUNT_SEARCH
    on_failure = FailurePolicy.park(after=5)

    def shape(self, document: dict[str, Any]) -> dict[str, Any]:
        """What the search index keeps."""
        return search_entry(document)


def search_entry(document: dict[str, Any]) -> dict[str, Any]:
    """What the search index keeps of an account document: all of it, plus the full name."""
    return {**document, "name": f"{document['first_name']} {document['last_name']}"}


@functools.lru_cache(maxsize=1024)
def utc_timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC to the microsecond, with a ``Z``: how documents keep times.

    Remembered: the events of one append share their record time, and formatting a time
    costs more than a projection's whole fold of a deposit.
    """
    text = moment.astimezone(UTC).isoformat(timespec="microseconds")
    return text.removesuffix("+00:00") + "Z"


def _already_has(doc: dict[str, Any] | None, version: int) -> bool:
    # a document written back from the event store (see queries) may be ahead of the
    # projection: events it already contains are skipped, so nothing is counted twice
    return doc is not None and doc.get("version", 0) >= version


def opened_document(
    account_id: str, event: AccountOpened, version: int, recorded_at: str
) -> dict[str, Any]:
    """The document of a freshly opened account (``recorded_at`` as :func:`utc_timestamp`)."""
    return {
        "account_id": account_id,
        "email": event.email,
        "address": event.address,
        "first_name": event.first_name,
        "last_name": event.last_name,
        "balance": event.balance,
        "currency": event.currency,
        "status": event.status,
        "version": version,
        "created_at": recorded_at,
        "updated_at": recorded_at,
    }


def account_document(account: BankAccount, created_at: str, updated_at: str) -> dict[str, Any]:
    """The document of an account loaded from its events (the same shape the projection keeps).

    ``created_at`` and ``updated_at`` are the record times of its first and last event.
    """
    return {
        "account_id": account.id,
        "email": account.email,
        "address": account.address,
        "first_name": account.first_name,
        "last_name": account.last_name,
        "balance": account.balance,
        "currency": account.currency,
        "status": account.status,
        "version": account.version,
        "created_at": created_at,
        "updated_at": updated_at,
    }


def projections() -> list[Projection]:
    """Every projection of the service (``ESKIT_PROJECTIONS=bank_accounts.projections:projections``)."""
    return [AccountsById(), AccountSearch()]
