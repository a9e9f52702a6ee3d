"""The service running for acceptance tests: its HTTP API as a client sees it, a test
subscription on its bus, and small steps of the flow written as a client would."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import orjson

from eskit.messaging import Bus
from eskit.messaging.message import Delivery
from eskit.serving import ServiceRuntime
from eskit.serving.messaging import bus_for
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend
from invoice_financing.service import service

T = TypeVar("T")
FINANCING_STREAMS = ["financing.Investor", "financing.Invoice", "financing.Issuer"]


@dataclass
class Running:
    """The service over one store and bus, an HTTP client of it, and the bus it publishes to."""

    runtime: ServiceRuntime
    client: httpx.AsyncClient
    bus: Bus
    seen: list[Delivery] = field(default_factory=list)

    async def accepted(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Send a command; assert 202; return its answer."""
        answer = await self.client.request(method, path, json=body)
        assert answer.status_code == 202, answer.text
        assert answer.headers["location"] == answer.json()["statusUrl"]
        result: dict[str, Any] = answer.json()
        return result

    async def done(self, accepted: dict[str, Any], status: str = "done") -> dict[str, Any]:
        """Wait until the queued command is final; assert it ended as ``status``."""

        async def final() -> dict[str, Any] | None:
            found: dict[str, Any] = (await self.client.get(accepted["statusUrl"])).json()
            return found if found["status"] in ("done", "refused", "dead") else None

        outcome = await eventually(final)
        assert outcome["status"] == status, outcome
        return outcome

    async def found(self, path: str, **params: Any) -> dict[str, Any]:
        """GET ``path`` until it answers 200 (the read model caught up); its body."""

        async def get() -> dict[str, Any] | None:
            answer = await self.client.get(path, params=params)
            return answer.json() if answer.status_code == 200 else None

        return await eventually(get)

    async def registered(self, kind: str, name: str) -> str:
        """Sign an issuer or investor up; wait until Financing knows it; its id."""
        accepted = await self.accepted("POST", f"/api/v1/{kind}s", {"name": name})
        await self.done(accepted)
        participant = str(accepted["aggregateId"])
        if kind == "investor":
            await self.found(f"/api/v1/investors/{participant}")
        else:
            await eventually(lambda: self._issuer_known(participant))
        return participant

    async def _issuer_known(self, issuer_id: str) -> bool | None:
        answer = await self.client.get("/api/v1/issuers", params={"limit": 100})
        return any(i["id"] == issuer_id for i in answer.json()["items"]) or None

    async def funded(self, name: str, amount: int) -> str:
        investor = await self.registered("investor", name)
        await self.done(
            await self.accepted(
                "POST",
                f"/api/v1/investors/{investor}/deposits",
                {"amount": amount, "currency": "EUR"},
            )
        )
        return investor

    async def invoice(self, issuer: str, amount: int, due: str = "2031-01-31") -> str:
        body = {"issuerId": issuer, "amount": amount, "currency": "EUR", "dueDate": due}
        accepted = await self.accepted("POST", "/api/v1/invoices", body)
        await self.done(accepted)
        return str(accepted["aggregateId"])

    async def bid(self, investor: str, invoice: str, amount: int) -> dict[str, Any]:
        body = {"investorId": investor, "amount": amount, "currency": "EUR"}
        return await self.accepted("POST", f"/api/v1/invoices/{invoice}/bids", body)

    async def settled_bid(self, bid_id: str) -> dict[str, Any]:
        """The bid once its saga ended: financed, or released with its reason."""

        async def final() -> dict[str, Any] | None:
            answer = await self.client.get(f"/api/v1/bids/{bid_id}")
            if answer.status_code != 200:
                return None
            body: dict[str, Any] = answer.json()
            return body if body["status"] in ("financed", "released") else None

        return await eventually(final)


async def eventually(probe: Callable[[], Awaitable[T | None]], *, timeout_s: float = 20.0) -> T:
    """``probe``'s first answer that is not None, asking again until ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = await probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"still nothing after {timeout_s} s")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def running(
    store: EventStoreBackend,
    bus_url: str = "",
    *,
    prefix: str = "eskit",
    queue_workers: int = 1,
    **settings_overrides: Any,
) -> AsyncIterator[Running]:
    """The service over ``store`` with every part running, on the bus of ``bus_url``
    (in-process when empty), and a test subscription of its own on that bus."""
    settings = EskitSettings(
        database_url="memory://",  # unused: the store is given
        bus_url=bus_url,
        bus_prefix=prefix,
        queue_workers=queue_workers,
        grpc_port=0,
        grpc_query_port=0,
        run_projections=True,
        consistency_timeout_s=10.0,
        **settings_overrides,
    )
    async with ServiceRuntime(service, store, settings) as runtime:
        assert runtime.messaging is not None
        bus = runtime.messaging.bus if not bus_url else bus_for(settings)
        transport = httpx.ASGITransport(app=runtime.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            try:
                yield Running(runtime, client, bus)
            finally:
                if bus_url:
                    await bus.close()


class BusSubscription:
    """A consumer group of the test's own on the service's bus, reading Financing's streams
    from the moment it joins: what it got, in the order it got it (headers plus ``data``)."""

    def __init__(self, bus: Bus, group: str) -> None:
        self.bus = bus
        self.group = group
        self.seen: list[dict[str, Any]] = []
        self._joined = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> BusSubscription:
        self._task = asyncio.create_task(self._read())
        await asyncio.wait_for(self._joined.wait(), 20)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _read(self) -> None:
        async with self.bus.consumer(self.group, FINANCING_STREAMS) as member:
            first = True
            while True:
                batch = await member.fetch(100, 0.01 if first else 0.2)
                if first:  # joined: the group reads everything published from here on
                    self._joined.set()
                    first = False
                for delivery in batch:
                    self.seen.append({**delivery.headers, "data": orjson.loads(delivery.body)})
                await member.ack(batch)

    async def wait_for(
        self, select: Callable[[dict[str, Any]], bool], count: int, *, timeout_s: float = 20.0
    ) -> list[dict[str, Any]]:
        """The first ``count`` messages ``select`` picks, once that many arrived."""

        async def enough() -> list[dict[str, Any]] | None:
            picked = [m for m in self.seen if select(m)]
            return picked if len(picked) >= count else None

        return await eventually(enough, timeout_s=timeout_s)
