"""The bank-account read side: an account document by id, kept by a projection.

``AccountsById`` keeps one document per account (owner, e-mail, balance, version). It reads
the documents of a whole batch in one query (``prefetch``) and writes each changed one once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bank_accounts.domain import (
    AccountOpened,
    BankAccount,
    EmailChanged,
    MoneyDeposited,
    MoneyWithdrawn,
)
from eskit.projections import DocumentCollection, Projection, ProjectionContext, handles
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
]

ACCOUNTS = DocumentCollection("bank_accounts_by_id")
"""Account documents: ``id`` is the account id."""

ACCOUNT_SEARCH = SearchIndex(
    "bank_accounts_search", text_fields=("name", "email"), sort_fields={"balance": int}
)
"""Accounts found by words of the owner's name or e-mail (prefixes), sortable by balance."""


class AccountsById(Projection):
    """One document per account, as a query by id wants it."""

    name = "bank_accounts_by_id"
    read_models = (ACCOUNTS,)
    stream_types = ("BankAccount",)

    async def prefetch(self, ctx: ProjectionContext, events: Sequence[StoredEvent]) -> None:
        """Load the batch's accounts in one query."""
        await ctx.writer(ACCOUNTS).load_many(e.stream_id for e in events)

    @handles(AccountOpened)
    async def opened(self, event: AccountOpened, ctx: ProjectionContext) -> None:
        """A new account document."""
        record = ctx.event
        docs = ctx.writer(ACCOUNTS)
        if _already_has(await docs.get(record.stream_id), record.version):
            return
        await docs.put(record.stream_id, opened_document(record.stream_id, event, record.version))

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

    @staticmethod
    async def _change(
        ctx: ProjectionContext, *, balance: int = 0, email: str | None = None
    ) -> None:
        record = ctx.event
        docs = ctx.writer(ACCOUNTS)
        doc = await docs.get(record.stream_id)
        if doc is None:  # the log says the account exists: a missing document is a bug
            raise LookupError(f"account {record.stream_id} has no document to update")
        if _already_has(doc, record.version):
            return
        doc["balance"] += balance
        if email is not None:
            doc["email"] = email
        doc["version"] = record.version
        await docs.put(record.stream_id, doc)


class AccountSearch(Projection):
    """The search side: name, e-mail and balance of every account."""

    name = "bank_accounts_search"
    read_models = (ACCOUNT_SEARCH,)
    stream_types = ("BankAccount",)

    async def prefetch(self, ctx: ProjectionContext, events: Sequence[StoredEvent]) -> None:
        """Load the batch's entries in one query."""
        await ctx.writer(ACCOUNT_SEARCH).load_many(e.stream_id for e in events)

    @handles(AccountOpened)
    async def opened(self, event: AccountOpened, ctx: ProjectionContext) -> None:
        """A new entry."""
        record = ctx.event
        index = ctx.writer(ACCOUNT_SEARCH)
        if _already_has(await index.get(record.stream_id), record.version):
            return
        await index.put(record.stream_id, search_entry(opened_document(record.stream_id, event)))

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

    @staticmethod
    async def _change(
        ctx: ProjectionContext, *, balance: int = 0, email: str | None = None
    ) -> None:
        record = ctx.event
        index = ctx.writer(ACCOUNT_SEARCH)
        entry = await index.get(record.stream_id)
        if entry is None:
            raise LookupError(f"account {record.stream_id} has no search entry to update")
        if _already_has(entry, record.version):
            return
        entry = {**entry, "balance": entry["balance"] + balance, "version": record.version}
        if email is not None:
            entry["email"] = email
        await index.put(record.stream_id, entry)


def search_entry(document: dict[str, Any]) -> dict[str, Any]:
    """What the search index keeps of an account document."""
    return {
        "account_id": document["account_id"],
        "name": f"{document['first_name']} {document['last_name']}",
        "email": document["email"],
        "balance": document["balance"],
        "currency": document["currency"],
        "version": document["version"],
    }


def _already_has(doc: dict[str, Any] | None, version: int) -> bool:
    # a document written back from the event store (see queries) may be ahead of the
    # projection: events it already contains are skipped, so nothing is counted twice
    return doc is not None and doc.get("version", 0) >= version


def opened_document(account_id: str, event: AccountOpened, version: int = 1) -> dict[str, Any]:
    """The document of a freshly opened account."""
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
    }


def account_document(account: BankAccount) -> dict[str, Any]:
    """The document of an account loaded from its events (the same shape the projection keeps)."""
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
    }


def projections() -> list[Projection]:
    """Every projection of the service (``ESKIT_PROJECTIONS=bank_accounts.projections:projections``)."""
    return [AccountsById(), AccountSearch()]
