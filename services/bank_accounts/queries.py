"""Queries of the bank-account service: get an account, with the read model's two fallbacks.

* ``get(id)`` answers from the ``bank_accounts_by_id`` read model. An account the read model
  does not hold yet (a projection that lags, a read model being rebuilt) is loaded from its
  events and the document is written back, so the next query finds it.
* ``get(id, source="events")`` skips the read model and folds the account's events: always
  current, at the price of a load.
* ``get(id, at_least_position=P)`` waits (up to ``timeout_s``) until the projection has
  handled position P, the position a command returned: read-your-writes.
* ``search(text, field=..., sort="balance", ...)`` finds accounts by prefixes of words of
  the owner's name or e-mail, sorted and paginated.
"""

from __future__ import annotations

import contextlib
from typing import Any, Literal

from bank_accounts.domain import BankAccount
from bank_accounts.projections import (
    ACCOUNT_SEARCH,
    ACCOUNTS,
    AccountsById,
    AccountSearch,
    account_document,
)
from eskit.app import Repository
from eskit.errors import DocumentConflictError
from eskit.projections import ReadDatabase, read_database
from eskit.projections.search import Match, SearchPage
from eskit.projections.session import Session
from eskit.projections.waiting import wait_for_checkpoint
from eskit.store import EventStoreBackend

__all__ = ["AccountQueries"]

Source = Literal["read_model", "events"]


class AccountQueries:
    """Reads of accounts, over the read model with the event store behind it."""

    def __init__(self, store: EventStoreBackend, repository: Repository[BankAccount]) -> None:
        self.store = store
        self.repository = repository
        self.db: ReadDatabase = read_database(store)

    async def get(
        self,
        account_id: str,
        *,
        source: Source = "read_model",
        at_least_position: int | None = None,
        timeout_s: float = 5.0,
    ) -> dict[str, Any]:
        """The account's document; NotFoundError if no such account exists."""
        if source == "events":
            return account_document(await self._load(account_id))
        if at_least_position is not None:
            await wait_for_checkpoint(
                self.db, AccountsById.name, at_least_position, timeout_s=timeout_s
            )
        doc = await ACCOUNTS.get(self.db, account_id)
        if doc is not None:
            return doc.body
        return await self._write_back(await self._load(account_id))

    async def search(
        self,
        text: str = "",
        *,
        field: Literal["name", "email"] | None = None,
        match: Match = "prefix",
        sort: Literal["balance", "name", "email"] = "balance",
        descending: bool = True,
        limit: int = 20,
        offset: int = 0,
        at_least_position: int | None = None,
        timeout_s: float = 5.0,
    ) -> SearchPage:
        """Accounts whose name or e-mail (or only ``field``) match ``text``'s words.

        ``match``: ``prefix`` (words starting with them), ``word`` (whole words) or
        ``substring`` (anywhere inside a word; at least 3 characters each).
        """
        if at_least_position is not None:
            await wait_for_checkpoint(
                self.db, AccountSearch.name, at_least_position, timeout_s=timeout_s
            )
        return await ACCOUNT_SEARCH.search(
            self.db,
            text,
            field=field,
            match=match,
            sort=sort,
            descending=descending,
            limit=limit,
            offset=offset,
        )

    async def _load(self, account_id: str) -> BankAccount:
        return await self.repository.load(account_id)  # NotFoundError if there is none

    async def _write_back(self, account: BankAccount) -> dict[str, Any]:
        body = account_document(account)

        async def work(session: Session) -> None:
            writer = ACCOUNTS.bind(session, ACCOUNTS.name)
            if await writer.get(account.id) is None:
                await writer.put(account.id, body)
                await writer.flush()

        # a conflict means the projection wrote it meanwhile: its document is as good
        with contextlib.suppress(DocumentConflictError):
            await self.db.transaction(work)
        return body
