"""The invoice-financing gRPC API (``proto/invoice_financing.proto``): commands on one port,
queries on another."""

from __future__ import annotations

import grpc

from invoice_financing.app import InvoiceFinancing

__all__ = ["command_handlers", "query_handlers"]


def command_handlers(app: InvoiceFinancing) -> list[grpc.GenericRpcHandler]:
    """The ``FinancingCommands`` methods over ``app``."""
    return []


def query_handlers(app: InvoiceFinancing) -> list[grpc.GenericRpcHandler]:
    """The ``FinancingQueries`` methods over ``app``."""
    return []
