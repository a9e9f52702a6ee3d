"""Queries of the service: invoices, investors, issuers and bids, from the read models.

Every query answers from its projection's table and takes the read-your-writes options of
the bank-account service's queries:

* ``at_least_position=P`` waits (up to ``timeout_s``) until the projection has handled
  position P, the position a command returned;
* ``min_version=N`` (invoices and investors, whose rows follow one stream each) waits until
  the row holds version N of the aggregate: the event of that version is written, then
  the projection has handled it.

Both raise NotCaughtUpError when the bound passes first. A row the table does not hold is
NotFoundError.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from eskit.errors import NotCaughtUpError, NotFoundError
from eskit.projections import Table
from eskit.projections.waiting import wait_for_checkpoint, wait_for_stream_version
from eskit.store import EventStoreBackend, require_transactions
from eskit.store.rows import Row
from invoice_financing.financing.domain import InvoiceStatus
from invoice_financing.projections import (
    BIDS,
    INVESTORS,
    INVOICES,
    ISSUERS,
    Bids,
    Investors,
    Invoices,
    Issuers,
)

__all__ = ["FinancingQueries", "Page"]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of rows, and how many rows matched in all."""

    items: list[Row]
    total: int
    limit: int
    offset: int

    @property
    def has_more(self) -> bool:
        """Whether rows follow this page."""
        return self.offset + len(self.items) < self.total


class FinancingQueries:
    """Reads of the service's read models.

    ``timeout_s`` bounds every wait for a read model (``at_least_position``,
    ``min_version``) unless a call gives its own.
    """

    def __init__(self, store: EventStoreBackend, *, timeout_s: float = 5.0) -> None:
        self.store = require_transactions(store, "invoice financing queries")
        self.timeout_s = timeout_s

    # -- invoices -----------------------------------------------------------------------

    async def get_invoice(
        self,
        invoice_id: str,
        *,
        at_least_position: int | None = None,
        min_version: int | None = None,
        timeout_s: float | None = None,
    ) -> Row:
        """The invoice's row; NotFoundError if the read model holds no such invoice."""
        return await self._get(
            INVOICES,
            Invoices.name,
            invoice_id,
            what="invoice",
            at_least_position=at_least_position,
            min_version=min_version,
            timeout_s=timeout_s,
        )

    async def list_invoices(
        self,
        *,
        status: InvoiceStatus | None = None,
        issuer_id: str | None = None,
        limit: int = 20,
        offset: int = 0,
        at_least_position: int | None = None,
        timeout_s: float | None = None,
    ) -> Page:
        """Invoices of a status and/or an issuer (all when neither is given), soonest due
        first (then by id)."""
        where: dict[str, Any] = {}
        if status is not None:
            where["status"] = status
        if issuer_id is not None:
            where["issuer_id"] = issuer_id
        await self._caught_up(Invoices.name, at_least_position, timeout_s)
        return await self._page(INVOICES, where, "due_date", limit, offset)

    # -- investors ----------------------------------------------------------------------

    async def get_investor(
        self,
        investor_id: str,
        *,
        at_least_position: int | None = None,
        min_version: int | None = None,
        timeout_s: float | None = None,
    ) -> Row:
        """The investor account's row; NotFoundError if the read model holds no such one."""
        return await self._get(
            INVESTORS,
            Investors.name,
            investor_id,
            what="investor",
            at_least_position=at_least_position,
            min_version=min_version,
            timeout_s=timeout_s,
        )

    async def list_investors(
        self,
        *,
        limit: int = 20,
        offset: int = 0,
        at_least_position: int | None = None,
        timeout_s: float | None = None,
    ) -> Page:
        """Investor accounts by name (then by id)."""
        await self._caught_up(Investors.name, at_least_position, timeout_s)
        return await self._page(INVESTORS, {}, "name", limit, offset)

    # -- issuers and bids ---------------------------------------------------------------

    async def list_issuers(
        self,
        *,
        limit: int = 20,
        offset: int = 0,
        at_least_position: int | None = None,
        timeout_s: float | None = None,
    ) -> Page:
        """The issuers Financing knows, by name (then by id)."""
        await self._caught_up(Issuers.name, at_least_position, timeout_s)
        return await self._page(ISSUERS, {}, "name", limit, offset)

    async def get_bid(
        self,
        bid_id: str,
        *,
        at_least_position: int | None = None,
        timeout_s: float | None = None,
    ) -> Row:
        """The bid's row; NotFoundError if the read model holds no such bid."""
        await self._caught_up(Bids.name, at_least_position, timeout_s)
        found = await BIDS.get(self.store, bid_id)
        if found is None:
            raise NotFoundError("bid", bid_id)
        return found

    # -- helpers ------------------------------------------------------------------------

    async def _get(
        self,
        table: Table,
        projection: str,
        row_id: str,
        *,
        what: str,
        at_least_position: int | None,
        min_version: int | None,
        timeout_s: float | None,
    ) -> Row:
        bound = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + bound
        await self._caught_up(projection, at_least_position, bound)
        if min_version is not None:
            await self._wait_for_version(projection, row_id, min_version, what, deadline, bound)
        found = await table.get(self.store, row_id)
        if found is None:
            raise NotFoundError(what, row_id)
        return found

    async def _caught_up(
        self, projection: str, position: int | None, timeout_s: float | None
    ) -> None:
        if position is not None:
            bound = self.timeout_s if timeout_s is None else timeout_s
            await wait_for_checkpoint(self.store, projection, position, timeout_s=bound)

    async def _wait_for_version(
        self,
        projection: str,
        stream_id: str,
        version: int,
        what: str,
        deadline: float,
        bound: float,
    ) -> None:
        """Wait until ``projection`` has handled version ``version`` of ``stream_id``: the
        event is written, then handled (NotFoundError if the stream does not exist)."""
        try:
            record = await wait_for_stream_version(
                self.store, stream_id, version, timeout_s=_until(deadline), what=what
            )
        except NotCaughtUpError as exc:  # told as the read model's wait, over the whole bound
            raise NotCaughtUpError(projection, version, exc.reached, bound, "version") from None
        await wait_for_checkpoint(
            self.store, projection, record.position, timeout_s=_until(deadline)
        )

    async def _page(
        self, table: Table, where: dict[str, Any], order_by: str, limit: int, offset: int
    ) -> Page:
        rows = await table.select(
            self.store, where=where, order_by=order_by, limit=limit, offset=offset
        )
        total = await table.count(self.store, where)
        return Page(rows, total, limit, offset)


def _until(deadline: float) -> float:
    """The seconds left until ``deadline`` (``time.monotonic()``), never below zero."""
    return max(deadline - time.monotonic(), 0.0)
