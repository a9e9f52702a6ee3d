"""Hearing commits of other processes: an ordered consumer of new events, headers only.

Each event any process commits reaches this process as a small message (no body), and
fires the store's :class:`~eskit.store.commits.AppendSignal` with its sequence. The
consumer lives on the server only while this process listens.
"""

from __future__ import annotations

import contextlib
import logging

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js.api import DeliverPolicy
from nats.js.client import JetStreamContext

from eskit.store.commits import AppendSignal
from eskit.store.jetstream.subjects import StoreNames

__all__ = ["JetStreamCommitListener"]

log = logging.getLogger(__name__)

_HEARTBEAT_S = 1.0
"""The server's beat to an idle consumer. nats-py makes the consumer again after two
missed beats, which is how the listener recovers from a server restart (its consumer is
gone and nothing else says so): within seconds, instead of 10-20 s at nats-py's 5 s."""


class JetStreamCommitListener:
    """Fires ``signal`` for each event committed to the store's stream, by anyone."""

    def __init__(self, js: JetStreamContext, names: StoreNames, signal: AppendSignal) -> None:
        self._js = js
        self._names = names
        self._signal = signal
        self._subscription: JetStreamContext.PushSubscription | None = None
        self.connected = False
        self.last_error: str | None = None

    async def start(self) -> None:
        """Subscribe from now on; on failure, stay disconnected (readers poll)."""
        try:
            self._subscription = await self._js.subscribe(
                self._names.events,
                stream=self._names.stream,
                cb=self._heard,
                ordered_consumer=True,
                deliver_policy=DeliverPolicy.NEW,
                headers_only=True,
                idle_heartbeat=_HEARTBEAT_S,
            )
        except (NatsError, TimeoutError) as exc:
            self.last_error = f"cannot follow the JetStream stream: {exc!r}"
            log.warning(self.last_error)
            return
        self.connected = True
        self.last_error = None

    async def _heard(self, msg: Msg) -> None:
        self._signal.fire(msg.metadata.sequence.stream)

    async def stop(self) -> None:
        """Unsubscribe."""
        subscription, self._subscription = self._subscription, None
        self.connected = False
        if subscription is not None:
            with contextlib.suppress(NatsError):  # the connection may be gone already
                await subscription.unsubscribe()
