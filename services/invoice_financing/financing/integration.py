"""Financing hears of Registering over the bus: each registration becomes a queued command.

The relay publishes Registering's events; the ``financing_registrations`` consumer group
turns ``IssuerRegistered`` into ``AddIssuer`` and ``InvestorRegistered`` into
``OpenInvestorAccount``, queued in the same transaction as the consumer's inbox: each
registration is queued once, however often the bus delivers it, and the command's id
derives from the event's, so even a second queueing would be the same command.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from eskit.domain import Command, Event, EventRegistry, derive_uuid7
from eskit.messaging.consumer import Consumer, MessageContext
from eskit.process import queued_command
from invoice_financing.financing.commands import AddIssuer, OpenInvestorAccount
from invoice_financing.published import InvestorRegistered, IssuerRegistered, participant_id

__all__ = ["REGISTRATIONS", "registrations_consumer"]

REGISTRATIONS = "financing_registrations"


async def _queue(command: Command, ctx: MessageContext) -> None:
    incoming = ctx.incoming
    command = command.model_copy(
        update={"command_id": derive_uuid7(uuid.UUID(incoming.event_id), 0)}
    )
    metadata = {"correlation_id": incoming.headers.get("eskit-correlation-id") or incoming.event_id}
    row = queued_command(command, now=datetime.now(UTC), metadata=metadata)
    await ctx.tx.queue.enqueue([row])


async def _issuer(event: Event, ctx: MessageContext) -> None:
    assert isinstance(event, IssuerRegistered)
    issuer = participant_id(ctx.incoming.stream_id)
    await _queue(AddIssuer(aggregate_id=issuer, name=event.name), ctx)


async def _investor(event: Event, ctx: MessageContext) -> None:
    assert isinstance(event, InvestorRegistered)
    investor = participant_id(ctx.incoming.stream_id)
    await _queue(OpenInvestorAccount(aggregate_id=investor, name=event.name), ctx)


def registrations_consumer() -> Consumer:
    """The consumer group that opens Financing's side of every registration."""
    return Consumer(
        name=REGISTRATIONS,
        stream_types=["registering.Issuer", "registering.Investor"],
        handlers={
            IssuerRegistered.event_type: _issuer,
            InvestorRegistered.event_type: _investor,
        },
        registry=EventRegistry([IssuerRegistered, InvestorRegistered]),
    )
