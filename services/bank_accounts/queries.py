"""Queries of the bank-account service: get an account, search, history, time travel.

* ``get(id)`` answers from the ``bank_accounts_by_id`` read model. An account the read model
  does not hold yet (a projection that lags, a read model being rebuilt) is loaded from its
  events and the document is written back, so the next query finds it.
* ``get(id, source="events")`` skips the read model and folds the account's events: always
  current, at the price of a load (``at_least_position`` then waits for the store alone).
* ``get(id, at_least_position=P)`` waits (up to ``timeout_s``) until the projection has
  handled position P, the position a command returned: read-your-writes.
  ``get(id, min_version=N)`` waits until the document holds version N of the account.
* ``get_at(id, at_version=N)`` / ``get_at(id, as_of=moment)``: the account as it was.
* ``search(text, field=..., sort="balance", ...)`` finds accounts by prefixes of words of
  the owner's name or e-mail, sorted and paginated.
* ``history(id)``: every event of the account, as stored.
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime
from typing import Any, Literal

from bank_accounts.activity import ACTIVITY
from bank_accounts.domain import BankAccount
from bank_accounts.projections import (
    ACCOUNT_SEARCH,
    ACCOUNTS,
    AccountsById,
    AccountSearch,
    account_document,
    utc_timestamp,
)
from eskit.app import Repository
from eskit.errors import DocumentConflictError, NotCaughtUpError, NotFoundError
from eskit.projections.schema import ensure_tables
from eskit.projections.search import Match, SearchPage
from eskit.projections.waiting import (
    wait_for_checkpoint,
    wait_for_head,
    wait_for_stream_version,
)
from eskit.store import EventStoreBackend, StoredEvent, require_transactions

__all__ = ["AccountQueries"]

Source = Literal["read_model", "events"]


class AccountQueries:
    """Reads of accounts, over the read model with the event store behind it.

    ``timeout_s`` bounds every wait for the read model (``min_version``,
    ``at_least_position``) unless a call gives its own.
    """

    def __init__(
        self,
        store: EventStoreBackend,
        repository: Repository[BankAccount],
        *,
        timeout_s: float = 5.0,
    ) -> None:
        self.store = require_transactions(store, "account queries")
        self.repository = repository
        self.timeout_s = timeout_s
        self._activity_ready = False

    async def activity(self, account_id: str) -> list[dict[str, Any]]:
        """The account's latest movements, newest first, as the bus's consumer built them.

        NotFoundError when the feed holds nothing for the account: an unknown account, or
        one whose events have not reached the consumer (or no bus is configured).
        """
        if not self._activity_ready:
            # the consumer creates the table when it starts; a server without a bus
            # answers 404 rather than failing on a missing table
            await ensure_tables(self.store, [ACTIVITY])
            self._activity_ready = True
        found = await ACTIVITY.get(self.store, account_id)
        if found is None:
            raise NotFoundError(BankAccount.stream_type, account_id, "no activity yet")
        return list(found.body["items"])

    async def get(
        self,
        account_id: str,
        *,
        source: Source = "read_model",
        min_version: int | None = None,
        at_least_position: int | None = None,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """The account's document; NotFoundError if no such account exists.

        Raises NotCaughtUpError if the read model does not reach ``at_least_position`` or
        ``min_version`` within the time bound.
        """
        bound = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + bound
        if source == "events":
            # folded from the events: only the store has to hold the position
            if at_least_position is not None:
                await wait_for_head(self.store, at_least_position, timeout_s=bound)
            await self._event_at(account_id, min_version or 1, deadline, bound)
            return await self._load(account_id)
        if at_least_position is not None:
            await wait_for_checkpoint(
                self.store, AccountsById.name, at_least_position, timeout_s=bound
            )
        if min_version is not None:
            return await self._wait_for_version(account_id, min_version, deadline, bound)
        doc = await ACCOUNTS.get(self.store, account_id)
        if doc is not None:
            return doc.body
        return await self._write_back(await self._load(account_id))

    async def get_at(
        self, account_id: str, *, at_version: int | None = None, as_of: datetime | None = None
    ) -> dict[str, Any]:
        """The account as it was at ``at_version`` or at the moment ``as_of``.

        NotFoundError if it did not exist then, or never reached that version.
        """
        return await self._load(account_id, at_version=at_version, as_of=as_of)

    async def history(
        self, account_id: str, *, at_least_position: int | None = None
    ) -> list[StoredEvent]:
        """Every event of the account, in version order; NotFoundError if there are none."""
        if at_least_position is not None:
            await wait_for_head(self.store, at_least_position, timeout_s=self.timeout_s)
        records = await self.store.read_stream(account_id)
        if not records or records[0].stream_type != BankAccount.stream_type:
            raise NotFoundError(BankAccount.stream_type, account_id)
        return records

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
        timeout_s: float | None = None,
    ) -> SearchPage:
        """Accounts whose name or e-mail (or only ``field``) match ``text``'s words.

        ``match``: ``prefix`` (words starting with them), ``word`` (whole words) or
        ``substring`` (anywhere inside a word; at least 3 characters each).
        """
        if at_least_position is not None:
            await wait_for_checkpoint(
                self.store,
                AccountSearch.name,
                at_least_position,
                timeout_s=self.timeout_s if timeout_s is None else timeout_s,
            )
        return await ACCOUNT_SEARCH.search(
            self.store,
            text,
            field=field,
            match=match,
            sort=sort,
            descending=descending,
            limit=limit,
            offset=offset,
        )

    # -- waiting -------------------------------------------------------------------------

    async def _wait_for_version(
        self, account_id: str, version: int, deadline: float, bound: float
    ) -> dict[str, Any]:
        """The document once it holds ``version``: waits for the event, then the projection."""
        record = await self._event_at(account_id, version, deadline, bound)
        try:
            await wait_for_checkpoint(
                self.store, AccountsById.name, record.position, timeout_s=_until(deadline)
            )
        except NotCaughtUpError:
            doc = await ACCOUNTS.get(self.store, account_id)
            reached = doc.body["version"] if doc is not None else 0
            raise NotCaughtUpError(AccountsById.name, version, reached, bound, "version") from None
        doc = await ACCOUNTS.get(self.store, account_id)
        if doc is not None and doc.body["version"] >= version:
            return doc.body
        return await self._write_back(await self._load(account_id))  # a rebuild in progress

    async def _event_at(
        self, account_id: str, version: int, deadline: float, bound: float
    ) -> StoredEvent:
        """The account's event of ``version``, once written (NotFoundError if the account
        does not exist, NotCaughtUpError if it is not written by ``deadline``)."""
        try:
            return await wait_for_stream_version(
                self.store,
                account_id,
                version,
                timeout_s=_until(deadline),
                what=BankAccount.stream_type,
            )
        except NotCaughtUpError as exc:  # told as the read model's wait, over the whole bound
            raise NotCaughtUpError(
                AccountsById.name, version, exc.reached, bound, "version"
            ) from None

    # -- loading from the events -------------------------------------------------------------

    async def _load(
        self, account_id: str, *, at_version: int | None = None, as_of: datetime | None = None
    ) -> dict[str, Any]:
        """The account folded from its events (NotFoundError if none), with its times."""
        account = await self.repository.load(account_id, at_version=at_version, as_of=as_of)
        first = await self.store.read_stream(account_id, to_version=1)
        last = first
        if account.version > 1:
            last = await self.store.read_stream(
                account_id, from_version=account.version, to_version=account.version
            )
        return account_document(
            account, utc_timestamp(first[0].recorded_at), utc_timestamp(last[0].recorded_at)
        )

    async def _write_back(self, body: dict[str, Any]) -> dict[str, Any]:
        """Put the document ``body`` in the read model unless it holds the account already."""
        account_id = body["account_id"]
        # a conflict means the projection wrote it meanwhile: its document is as good
        with contextlib.suppress(DocumentConflictError):
            async with self.store.transaction() as tx:
                writer = ACCOUNTS.bind(tx, ACCOUNTS.name)
                if await writer.get(account_id) is None:
                    await writer.put(account_id, body)
                    await writer.flush()
        return body


def _until(deadline: float) -> float:
    """The seconds left until ``deadline`` (``time.monotonic()``), never below zero."""
    return max(deadline - time.monotonic(), 0.0)
