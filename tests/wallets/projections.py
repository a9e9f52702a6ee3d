"""The wallets' read side: a document per wallet, and a search index over the owners."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from eskit.projections import DocumentCollection, Projection, ProjectionContext, handles
from eskit.projections.projection import Bindable
from eskit.projections.search import SearchIndex
from tests.wallets.domain import Deposited, OwnerRenamed, WalletOpened, Withdrawn

__all__ = [
    "WALLETS",
    "WALLET_SEARCH",
    "WalletSearch",
    "WalletsById",
    "documents_only",
    "projections",
]

WALLETS = DocumentCollection("wallets_by_id")
"""``{"wallet_id", "owner", "balance", "version"}`` by wallet id."""

WALLET_SEARCH = SearchIndex("wallets_search", text_fields=("owner",), sort_fields={"balance": int})
"""The same entries, found by words of the owner's name, sortable by balance."""


class _Entries(Protocol):
    async def get(self, doc_id: str) -> dict[str, Any] | None: ...
    async def put(self, doc_id: str, body: dict[str, Any]) -> None: ...


class _OneEntryPerWallet(Projection):
    """One entry per wallet in ``model``; an event for a wallet it never saw opened fails."""

    stream_types = ("Wallet",)
    model: ClassVar[Bindable[_Entries]]

    @handles(WalletOpened)
    async def opened(self, event: WalletOpened, ctx: ProjectionContext) -> None:
        """A new entry."""
        wallet_id = ctx.event.stream_id
        entry = {
            "wallet_id": wallet_id,
            "owner": event.owner,
            "balance": event.balance,
            "version": ctx.event.version,
        }
        await ctx.writer(self.model).put(wallet_id, entry)

    @handles(Deposited)
    async def deposited(self, event: Deposited, ctx: ProjectionContext) -> None:
        """Balance up."""
        await self._change(ctx, balance=event.amount)

    @handles(Withdrawn)
    async def withdrawn(self, event: Withdrawn, ctx: ProjectionContext) -> None:
        """Balance down."""
        await self._change(ctx, balance=-event.amount)

    @handles(OwnerRenamed)
    async def renamed(self, event: OwnerRenamed, ctx: ProjectionContext) -> None:
        """New owner's name."""
        await self._change(ctx, owner=event.owner)

    async def _change(
        self, ctx: ProjectionContext, *, balance: int = 0, owner: str | None = None
    ) -> None:
        wallet_id = ctx.event.stream_id
        entries = ctx.writer(self.model)
        entry = await entries.get(wallet_id)
        if entry is None:
            raise LookupError(f"wallet {wallet_id} has no {self.model.name} entry")
        entry["balance"] += balance
        entry["version"] = ctx.event.version
        if owner is not None:
            entry["owner"] = owner
        await entries.put(wallet_id, entry)


class WalletsById(_OneEntryPerWallet):
    """A document per wallet."""

    name = "wallets_by_id"
    read_models = (WALLETS,)
    model = WALLETS


class WalletSearch(_OneEntryPerWallet):
    """A search entry per wallet."""

    name = "wallets_search"
    read_models = (WALLET_SEARCH,)
    model = WALLET_SEARCH


def projections() -> list[Projection]:
    """Both projections (``--projections tests.wallets.projections:projections``)."""
    return [WalletsById(), WalletSearch()]


def documents_only() -> list[Projection]:
    """Only the documents (``--projections tests.wallets.projections:documents_only``)."""
    return [WalletsById()]
