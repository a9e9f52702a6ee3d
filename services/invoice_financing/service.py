"""The invoice-financing service as ``eskit serve`` runs it.

``ESKIT_SERVICE=invoice_financing.service:service eskit serve`` serves the HTTP API, the
command methods over gRPC (``ESKIT_GRPC_PORT``) and the query methods on a port of their
own (``ESKIT_GRPC_QUERY_PORT``), and runs the projections, the sagas, the command queue's
workers, the relay and Financing's consumer of Registering's events (on the in-process bus
unless ``ESKIT_BUS_URL`` names Kafka or NATS).
"""

from __future__ import annotations

from eskit.serving import Service, ServiceParts
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend
from invoice_financing.app import InvoiceFinancing
from invoice_financing.financing.domain import FinancingIssuer, InvestorAccount, Invoice
from invoice_financing.financing.integration import registrations_consumer
from invoice_financing.financing.sagas import sagas
from invoice_financing.grpc_api import command_handlers, query_handlers
from invoice_financing.http_api import financing_routers
from invoice_financing.projections import projections
from invoice_financing.registering.domain import Investor, Issuer

__all__ = ["service"]


def _build(store: EventStoreBackend, settings: EskitSettings) -> ServiceParts:
    app = InvoiceFinancing.from_settings(store, settings)
    return ServiceParts(
        routers=financing_routers(app),
        grpc_handlers=command_handlers(app),
        query_grpc_handlers=query_handlers(app),
        projections=projections(),
        processes=sagas(),
        consumers=[registrations_consumer()],
        queue=app.queue,
        bus_required=True,
        aggregates={
            cls.stream_type: cls
            for cls in (FinancingIssuer, InvestorAccount, Invoice, Issuer, Investor)
        },
    )


service = Service(
    name="invoice_financing",
    build=_build,
    title="Invoice financing",
    description="Issuers put invoices up for sale, investors finance them; a saga keeps "
    "investor balances and invoices consistent.",
)
"""``ESKIT_SERVICE=invoice_financing.service:service``."""
