"""The bank-account service as ``eskit serve`` runs it: the application over the store, its
HTTP routes, its gRPC methods and its projections.

``python -m bank_accounts`` (``make run``) serves it; so does
``ESKIT_SERVICE=bank_accounts.service:service eskit serve``.
"""

from __future__ import annotations

from bank_accounts.activity import activity_consumer
from bank_accounts.app import BankAccounts
from bank_accounts.domain import BankAccount
from bank_accounts.grpc_api import grpc_handlers
from bank_accounts.http_api import accounts_router
from bank_accounts.projections import projections
from eskit.serving import Service, ServiceParts
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend

__all__ = ["service"]


def _build(store: EventStoreBackend, settings: EskitSettings) -> ServiceParts:
    accounts = BankAccounts.from_settings(store, settings)
    return ServiceParts(
        routers=[accounts_router(accounts)],
        grpc_handlers=grpc_handlers(accounts),
        projections=projections(),
        consumers=[activity_consumer()],
        aggregates={BankAccount.stream_type: BankAccount},
    )


service = Service(
    name="bank_accounts",
    build=_build,
    title="Bank accounts",
    description="Open accounts, deposit, withdraw, change e-mail, get and search accounts.",
)
"""``ESKIT_SERVICE=bank_accounts.service:service``."""
