"""Reading a JetStream stream with direct gets: by sequence, last by subject, in batches.

Direct gets are answered by the server that holds the stream without a consumer: the
cheapest way to read a log at random. A batch request (``batch``, ``multi_last``) is
answered with one message per record and an end-of-batch status, collected here on an
inbox of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from eskit.errors import StoreUnavailableError

__all__ = ["DirectReader", "status_of"]

_END = "204"  # end of a batch
_NONE = "404"  # nothing matched
MAX_BATCH = 1000
"""Records asked for per batch request (the server may send fewer: then we ask again)."""


def _sequence(msg: Msg) -> int:
    return int((msg.headers or {})["Nats-Sequence"])


def status_of(msg: Msg) -> str | None:
    """The status header of a reply (None for a record)."""
    headers = msg.headers
    if not headers or "Nats-Sequence" in headers:
        return None
    return headers.get("Status")


class DirectReader:
    """Direct gets on one JetStream stream."""

    def __init__(self, client: Client, stream: str, *, timeout_s: float) -> None:
        self._client = client
        self._api = f"$JS.API.DIRECT.GET.{stream}"
        self._stream = stream
        self.timeout_s = timeout_s

    async def last(self, subject: str) -> Msg | None:
        """The last record on ``subject`` (wildcards allowed); None if there is none."""
        return await self._one(f"{self._api}.{subject}", b"")

    async def at(self, sequence: int) -> Msg | None:
        """The record at ``sequence``; None if there is none."""
        return await self._one(self._api, orjson.dumps({"seq": sequence}))

    async def _one(self, subject: str, payload: bytes) -> Msg | None:
        reply = await self._request(subject, payload)
        status = status_of(reply)
        if status == _NONE:
            return None
        if status is not None:
            raise self._failure(reply)
        return reply

    async def after(
        self, *, start: int, subject: str, limit: int, up_to: int | None = None
    ) -> tuple[list[Msg], bool]:
        """Up to ``limit`` records on ``subject`` from sequence ``start`` on, in order.

        Returns them and whether more may follow (the batch was cut short by the server
        or by ``limit``).
        """
        request: dict[str, Any] = {
            "seq": max(start, 1),
            "next_by_subj": subject,
            "batch": min(limit, MAX_BATCH),
        }
        records, pending = await self._batch(request)
        if up_to is not None and records and _sequence(records[-1]) > up_to:
            # the server bounds multi_last by up_to_seq, not next_by_subj: cut here
            return [r for r in records if _sequence(r) <= up_to], False
        return records, pending > 0

    async def window(self, subject: str, start: int, end: int) -> list[Msg]:
        """Every record on ``subject`` from sequence ``start`` to ``end``, in order."""
        records: list[Msg] = []
        while start <= end:
            batch, more = await self.after(start=start, subject=subject, limit=MAX_BATCH, up_to=end)
            records.extend(batch)
            if not batch or not more:
                break
            start = _sequence(batch[-1]) + 1
        return records

    async def lasts(self, subjects: Sequence[str]) -> list[Msg]:
        """The last record of each subject that has one."""
        found: list[Msg] = []
        for start in range(0, len(subjects), 256):
            chunk = list(subjects[start : start + 256])
            records, _ = await self._batch({"multi_last": chunk, "batch": len(chunk)})
            found.extend(records)
        return found

    async def _batch(self, request: dict[str, Any]) -> tuple[list[Msg], int]:
        records: list[Msg] = []
        done: asyncio.Future[tuple[list[Msg], int]] = asyncio.get_running_loop().create_future()

        async def collect(msg: Msg) -> None:
            status = status_of(msg)
            if status is None:
                records.append(msg)
                return
            if done.done():
                return
            if status == _END:
                pending = int((msg.headers or {}).get("Nats-Num-Pending", "0"))
                done.set_result((records, pending))
            elif status == _NONE:
                done.set_result((records, 0))
            else:
                done.set_exception(self._failure(msg))

        inbox = self._client.new_inbox()
        sub = await self._client.subscribe(inbox, cb=collect)
        try:
            await self._client.publish(self._api, orjson.dumps(request), reply=inbox)
            return await asyncio.wait_for(done, self.timeout_s)
        except TimeoutError as exc:
            raise StoreUnavailableError(
                f"JetStream stream {self._stream!r} did not answer a read within {self.timeout_s} s"
            ) from exc
        finally:
            await sub.unsubscribe()

    async def _request(self, subject: str, payload: bytes) -> Msg:
        try:
            return await self._client.request(subject, payload, timeout=self.timeout_s)
        except (NatsTimeoutError, TimeoutError) as exc:
            raise StoreUnavailableError(
                f"JetStream stream {self._stream!r} did not answer a read within {self.timeout_s} s"
            ) from exc
        except NoRespondersError as exc:
            raise StoreUnavailableError(
                f"no JetStream stream {self._stream!r} answers direct gets "
                "(is the store migrated, and JetStream on?)"
            ) from exc

    def _failure(self, msg: Msg) -> StoreUnavailableError:
        headers = msg.headers or {}
        return StoreUnavailableError(
            f"JetStream stream {self._stream!r} refused a read: "
            f"{headers.get('Status')} {headers.get('Description', '')}".rstrip()
        )
