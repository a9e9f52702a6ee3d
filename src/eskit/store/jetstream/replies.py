"""Several requests sent back to back on one connection, their answers on one subscription.

``Client.request`` sends one message and waits; sending a claim and its event that way costs
two round trips. Here both go out together (nats-py queues a publish without yielding to
other tasks, so nothing of this process comes between them) and their answers are awaited
together: one round trip.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

__all__ = ["Replies", "Request"]

Request = tuple[str, bytes, dict[str, str]]
"""A message to send: subject, body, headers."""


class Replies:
    """Answers to this store's paired requests, by token."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._prefix = ""
        self._subscription: Subscription | None = None
        self._waiting: dict[str, asyncio.Future[Msg]] = {}
        self._tokens = itertools.count()  # unique within the inbox, which is this object's

    async def send(self, requests: Sequence[Request], *, timeout_s: float) -> list[Msg]:
        """Send ``requests`` in order, back to back; their answers, in the same order.

        Raises TimeoutError if any answer takes longer than ``timeout_s``.
        """
        if self._subscription is None:
            self._prefix = f"{self._client.new_inbox()}."
            self._subscription = await self._client.subscribe(f"{self._prefix}*", cb=self._answer)
        loop = asyncio.get_running_loop()
        tokens = [str(next(self._tokens)) for _ in requests]
        futures = []
        for token in tokens:
            self._waiting[token] = future = loop.create_future()
            futures.append(future)
        try:
            for token, (subject, body, headers) in zip(tokens, requests, strict=True):
                await self._client.publish(
                    subject, body, reply=self._prefix + token, headers=headers
                )
            async with asyncio.timeout(timeout_s):  # no task of its own, unlike wait_for
                return [await future for future in futures]
        finally:
            for token in tokens:
                self._waiting.pop(token, None)

    async def _answer(self, msg: Msg) -> None:
        future = self._waiting.pop(msg.subject[len(self._prefix) :], None)
        if future is not None and not future.done():
            future.set_result(msg)
