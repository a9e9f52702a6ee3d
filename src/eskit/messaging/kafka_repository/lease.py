"""One writer per topic: a lease held by records on a small topic of its own.

Each would-be writer reads ``<topic>.writer`` (one partition, compacted, keyed by writer)
and folds its records in offset order, which every reader sees alike:

* a ``claim`` or ``heartbeat`` from ``W`` makes ``W`` the holder if nobody holds the lease,
  ``W`` holds it already, or the holder's last record is older than its time to live;
  otherwise it is ignored (it lost a race);
* a ``release`` from the holder frees the lease.

A writer that finds a live holder refuses to start (WriterLeaseHeldError). One that finds
the lease free writes a claim and reads back up to it: the log's order decides a race, so
of two claims at once exactly one wins. The holder renews the lease with heartbeats; it
stops writing (the repository turns stale) when its last acknowledged heartbeat is older
than half the time to live, before anyone else may take the lease over. A process frozen
in the middle of a produce for longer than the time to live could still land one late
write: this is a lease, not a broker-side fence (Kafka's transactional producer would be
one; the brokers eskit tests against do not offer it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from eskit.messaging.kafka_repository.errors import WriterLeaseHeldError
from eskit.messaging.kafka_repository.topics import Batch, read_to_end

__all__ = ["WriterLease"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Holder:
    owner: str
    last_ms: int
    ttl_ms: int


def _fold(holder: _Holder | None, owner: str, kind: str, at_ms: int, ttl_ms: int) -> _Holder | None:
    if kind == "release":
        return None if holder is not None and holder.owner == owner else holder
    if holder is None or holder.owner == owner or at_ms > holder.last_ms + holder.ttl_ms:
        return _Holder(owner, at_ms, ttl_ms)
    return holder  # a claim that lost the race


class WriterLease:
    """The writer lease of one topic, held through ``producer`` and read with ``consumer``."""

    def __init__(
        self,
        topic: str,
        producer: AIOKafkaProducer,
        consumer: AIOKafkaConsumer,
        *,
        ttl_s: float,
        timeout_s: float,
    ) -> None:
        self.topic = topic
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._producer = producer
        self._consumer = consumer
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._valid_until = 0.0
        self._heartbeats: asyncio.Task[None] | None = None

    def use(self, producer: AIOKafkaProducer) -> None:
        """Renew through ``producer`` from now on (the old one was closed)."""
        self._producer = producer

    @property
    def held(self) -> bool:
        """Whether this writer may still write: its last renewal is recent enough."""
        return time.monotonic() < self._valid_until

    async def acquire(self) -> None:
        """Take the lease (again); WriterLeaseHeldError if another writer holds it."""
        task, self._heartbeats = self._heartbeats, None
        if task is not None:
            task.cancel()
        holder, _ = await self._holder()
        self._refuse_unless_mine(holder)
        sent_at = time.monotonic()
        offset = await self._write("claim")
        holder, read_up_to = await self._holder()
        if read_up_to <= offset or holder is None or holder.owner != self.owner:
            with contextlib.suppress(Exception):  # withdraw the lost claim; it expires anyway
                await self._write("release")
            self._refuse_unless_mine(holder)
            raise WriterLeaseHeldError(self.topic, "another writer", self._ttl_s)
        self._valid_until = sent_at + self._ttl_s / 2
        self._heartbeats = asyncio.create_task(self._renew(), name=f"lease {self.topic}")

    def _refuse_unless_mine(self, holder: _Holder | None) -> None:
        if holder is None or holder.owner == self.owner:
            return
        left_s = (holder.last_ms + holder.ttl_ms) / 1000 - time.time()
        if left_s > 0:
            raise WriterLeaseHeldError(self.topic, holder.owner, left_s)

    async def _holder(self) -> tuple[_Holder | None, int]:
        """Who holds the lease by the log now, and the offset read up to."""
        holder: _Holder | None = None

        def fold(_: int, records: Batch) -> None:
            nonlocal holder
            for record in records:
                body = orjson.loads(record.value or b"{}")
                owner = (record.key or b"").decode()
                holder = _fold(holder, owner, body["kind"], record.timestamp, body["ttl_ms"])

        ends = await read_to_end(
            self._consumer, self.topic, {0: 0}, fold, idle_timeout_s=self._timeout_s
        )
        return holder, ends[0]

    async def _write(self, kind: str) -> int:
        value = orjson.dumps({"kind": kind, "ttl_ms": int(self._ttl_s * 1000)})
        sent = await self._producer.send(
            self.topic,
            value,
            key=self.owner.encode(),
            partition=0,
            timestamp_ms=int(time.time() * 1000),
        )
        metadata = await asyncio.wait_for(sent, self._timeout_s)
        return int(metadata.offset)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_s / 6)
            if not self.held:
                log.warning("writer lease of %s lapsed: no renewal acknowledged", self.topic)
                return  # never renew a lapsed lease: another writer may have it by now
            sent_at = time.monotonic()
            try:
                await self._write("heartbeat")
            except Exception as exc:  # the broker is away: the lease lapses unless it returns
                log.warning("writer lease of %s not renewed: %r", self.topic, exc)
                continue
            self._valid_until = sent_at + self._ttl_s / 2

    async def release(self) -> None:
        """Stop renewing and free the lease for the next writer."""
        task, self._heartbeats = self._heartbeats, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.held:
            self._valid_until = 0.0
            with contextlib.suppress(Exception):  # it expires on its own if this fails
                await self._write("release")
