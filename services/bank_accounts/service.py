"""The bank-account service: the application object and what ``eskit serve`` runs."""

from __future__ import annotations

from bank_accounts.app import build_handler
from bank_accounts.queries import AccountQueries
from eskit.serving import Service, ServiceParts
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend

__all__ = ["BankAccounts", "service"]


class BankAccounts:
    """Commands and queries of the service over one store; the APIs are thin layers on it."""

    def __init__(
        self,
        store: EventStoreBackend,
        *,
        snapshot_every: int | None = None,
        consistency_timeout_s: float = 5.0,
        cache_size: int = 1024,
    ) -> None:
        self.store = store
        self.handler = build_handler(store, snapshot_every=snapshot_every, cache_size=cache_size)
        self.queries = AccountQueries(
            store, self.handler.repository, timeout_s=consistency_timeout_s
        )

    @classmethod
    def from_settings(cls, store: EventStoreBackend, settings: EskitSettings) -> BankAccounts:
        """The service configured by ``settings``."""
        return cls(
            store,
            snapshot_every=settings.snapshot_every,
            consistency_timeout_s=settings.consistency_timeout_s,
            cache_size=settings.aggregate_cache_size,
        )


def _build(store: EventStoreBackend, settings: EskitSettings) -> ServiceParts:
    from bank_accounts.grpc_api import grpc_handlers
    from bank_accounts.http_api import accounts_router
    from bank_accounts.projections import projections

    accounts = BankAccounts.from_settings(store, settings)
    return ServiceParts(
        routers=[accounts_router(accounts)],
        grpc_handlers=grpc_handlers(accounts),
        projections=projections(),
    )


service = Service(
    name="bank_accounts",
    build=_build,
    title="Bank accounts",
    description="Open accounts, deposit, withdraw, change e-mail, get and search accounts.",
)
"""``ESKIT_SERVICE=bank_accounts.service:service`` (the default)."""
