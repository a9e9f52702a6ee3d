"""An account's recent activity, built from the bus as the seed service builds its views.

The relay publishes the account's events to the bus (``ESKIT_BUS_URL``); the
``bank_accounts_activity`` consumer group reads them and keeps, per account, its latest
movements, newest first. Each event takes effect once: the consumer's inbox is committed
with the document it changes. Run it with ``eskit consume`` (or beside the projections in
``eskit serve`` / ``eskit worker``) whenever a bus is configured.
"""

from __future__ import annotations

from typing import Any

from bank_accounts.domain import (
    AccountOpened,
    BankAccount,
    EmailChanged,
    MoneyDeposited,
    MoneyWithdrawn,
)
from eskit.domain.events import Event
from eskit.domain.registry import EventRegistry
from eskit.messaging.consumer import Consumer, MessageContext
from eskit.projections import DocumentCollection
from eskit.projections.schema import ensure_tables
from eskit.store import TransactionalStore

__all__ = ["ACTIVITY", "MAX_ITEMS", "activity_consumer"]

ACTIVITY = DocumentCollection("bank_accounts_activity")
"""One document per account: ``{"items": [...]}``, newest first."""

MAX_ITEMS = 50
"""How many movements a document keeps: a feed, not a statement."""


def _item(event: Event, ctx: MessageContext) -> dict[str, Any]:
    incoming = ctx.incoming
    item: dict[str, Any] = {
        "type": incoming.event_type.rsplit(".", 1)[-1],
        "version": incoming.version,
        "at": incoming.headers.get("eskit-recorded-at"),
    }
    if isinstance(event, MoneyDeposited | MoneyWithdrawn):
        item |= {"amount": event.amount, "currency": event.currency, "paymentId": event.payment_id}
    elif isinstance(event, AccountOpened):
        item |= {"amount": event.balance, "currency": event.currency}
    return item


async def _record(event: Event, ctx: MessageContext) -> None:
    documents = ACTIVITY.bind(ctx.tx, ACTIVITY.name)
    body = await documents.get(ctx.incoming.stream_id) or {"items": []}
    await documents.put(
        ctx.incoming.stream_id, {"items": [_item(event, ctx), *body["items"]][:MAX_ITEMS]}
    )
    await documents.flush()


def activity_consumer() -> Consumer:
    """The consumer group ``bank_accounts_activity``."""
    events = (AccountOpened, MoneyDeposited, MoneyWithdrawn, EmailChanged)
    return Consumer(
        name="bank_accounts_activity",
        stream_types=[BankAccount.stream_type],
        handlers={e.event_type: _record for e in events},
        registry=EventRegistry(events),
        prepare=_create_table,
    )


async def _create_table(store: TransactionalStore) -> None:
    await ensure_tables(store, [ACTIVITY])
