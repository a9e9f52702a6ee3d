"""The bid chain and a command queue written by hand on psycopg: the limit for eskit's sagas
and command queue.

The honest minimum of work for the guarantees eskit gives (every command durable once
accepted, every event appended with a version check, no command lost or done twice across
a crash, outcomes kept):

* an event table of eskit's shape (``UNIQUE (stream_id, version)`` is the version check,
  ``UNIQUE (event_id)``) and a plain queue table (status, attempts, due time, lease,
  outcome), claimed in batches of 64 with ``FOR UPDATE SKIP LOCKED``;
* each command is one transaction, pipelined in one round trip: append its event at the
  next version, queue the follow-up command (its id derived from the event's, so a
  repeat is ignored), and mark the command done with its outcome. A bid is three such
  transactions (reserve, finance, commit or release), as the chain has three events;
* the process's state lives in the commands: the follow-up is decided in the transaction
  of the event that causes it, so there is no saga table and no subscription to the log.
  That is the floor, and also what eskit does more of: it reacts to committed events from
  a checkpoint, keeps each saga instance as a row operators can list, and records a
  batch's outcomes in a transaction of its own;
* aggregates are kept in memory once loaded, commands to one stream take turns (as
  eskit's handlers and cache do); a version conflict with another process reloads the
  stream from its events and tries again (never the case here: one process).

Workers are asyncio tasks over a pool of 16 connections (eskit's default), woken at once
when something in the process queued a command, otherwise polling every 50 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from workloads.bids import CURRENCY, FUNDS, Plan

__all__ = ["RawProcess", "raw_pool"]

SCHEMA = """
CREATE TABLE raw_events (
    position    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id   text        NOT NULL,
    version     bigint      NOT NULL,
    event_id    uuid        NOT NULL UNIQUE,
    event_type  text        NOT NULL,
    data        jsonb       NOT NULL,
    metadata    jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream_id, version)
);
CREATE TABLE raw_queue (
    id           uuid        PRIMARY KEY,
    command_type text        NOT NULL,
    payload      jsonb       NOT NULL,
    status       text        NOT NULL DEFAULT 'queued',
    attempts     integer     NOT NULL DEFAULT 0,
    available_at timestamptz NOT NULL DEFAULT now(),
    lease_until  timestamptz,
    outcome      jsonb
);
CREATE INDEX raw_queue_due ON raw_queue (status, available_at);
"""
INSERT_EVENT = (
    "INSERT INTO raw_events (stream_id, version, event_id, event_type, data, metadata) "
    "VALUES (%s, %s, %s, %s, %s, %s)"
)
ENQUEUE = "INSERT INTO raw_queue (id, command_type, payload) VALUES (%s, %s, %s)"
# a follow-up is due at once, ahead of what clients queued (eskit's sagas do the same)
ENQUEUE_NEXT = (
    "INSERT INTO raw_queue (id, command_type, payload, available_at) "
    "VALUES (%s, %s, %s, '-infinity') ON CONFLICT DO NOTHING"
)
CLAIM = """
UPDATE raw_queue
SET status = 'running', attempts = attempts + 1, lease_until = now() + interval '30 seconds'
WHERE id = ANY(ARRAY(
    SELECT id FROM raw_queue
    WHERE (status = 'queued' AND available_at <= now())
       OR (status = 'running' AND lease_until < now())
    ORDER BY available_at
    LIMIT %s
    FOR UPDATE SKIP LOCKED
))
RETURNING id, command_type, payload
"""
FINISH = (
    "UPDATE raw_queue SET status = %s, outcome = %s, lease_until = NULL "
    "WHERE id = %s AND status = 'running'"
)
FINISH_MANY = (
    "UPDATE raw_queue SET status = 'done', outcome = '{}', lease_until = NULL "
    "WHERE id = ANY(%s) AND status = 'running'"
)
STREAM = "SELECT version, event_type, data FROM raw_events WHERE stream_id = %s ORDER BY version"
BATCH = 64
POLL_S = 0.05


def raw_pool(url: str, size: int = 16) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
    """A pool of autocommit connections (a transaction is an explicit block)."""
    return AsyncConnectionPool(
        url, min_size=size, max_size=size, kwargs={"autocommit": True}, open=False
    )


@dataclass
class _Investor:
    version: int = 0
    available: int = 0
    reserved: dict[str, tuple[str, int]] = field(default_factory=dict)


@dataclass
class _Invoice:
    version: int = 0
    amount: int = 0
    currency: str = CURRENCY
    financed_by: str | None = None


@dataclass
class _Decision:
    stream_id: str
    event_type: str
    data: dict[str, Any]
    apply: Callable[[], None]
    follow: tuple[str, dict[str, Any]] | None = None


_Rows = tuple[tuple[Any, ...] | None, tuple[Any, ...] | None, tuple[Any, ...]]
"""The event row, the follow-up command's row and the outcome row of one command."""
Mode = Literal["each", "batch", "bookkeeping"]
"""How a worker runs what it claimed: ``each`` command in a transaction of its own (the
claimed ones side by side), the whole ``batch`` in one transaction, or no handling at all:
only the ``bookkeeping`` of the queue (claim, finish), to show what the queue costs alone."""


def _follow_id(event_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(event_id, "next")


class RawProcess:
    """Investor accounts, invoices and the bid chain over raw_events and raw_queue."""

    def __init__(self, pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]]) -> None:
        self.pool = pool
        self.investors: dict[str, _Investor] = {}
        self.invoices: dict[str, _Invoice] = {}
        self._turns: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.wake = asyncio.Event()
        self.ended: dict[str, float] = {}
        """Bid id -> when its final event committed (perf_counter)."""
        self.done = 0
        """Commands finished by the workers."""

    # -- setting up ---------------------------------------------------------------------------

    async def create_tables(self) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(SCHEMA.encode())

    async def set_up(self, bids: Plan) -> None:
        """The investors (opened, funded) and the invoices, as events, in one transaction."""
        rows = []
        for investor in bids.investors:
            rows.append(self._row(investor, 1, "AccountOpened", {"name": investor}))
            rows.append(self._row(investor, 2, "FundsDeposited", {"amount": FUNDS}))
            self.investors[investor] = _Investor(version=2, available=FUNDS)
        for invoice, amount in bids.invoices.items():
            data = {"amount": amount, "currency": CURRENCY}
            rows.append(self._row(invoice, 1, "InvoicePutForSale", data))
            self.invoices[invoice] = _Invoice(version=1, amount=amount)
        await self._insert_rows(rows)

    async def open_accounts(self, accounts: Sequence[str]) -> None:
        rows = [self._row(a, 1, "AccountOpened", {"name": a}) for a in accounts]
        self.investors.update({a: _Investor(version=1) for a in accounts})
        await self._insert_rows(rows)

    @staticmethod
    def _row(stream: str, version: int, event_type: str, data: dict[str, Any]) -> tuple[Any, ...]:
        return (stream, version, uuid.uuid4(), event_type, Jsonb(data), Jsonb({}))

    async def _insert_rows(self, rows: list[tuple[Any, ...]]) -> None:
        async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.executemany(INSERT_EVENT, rows)

    @staticmethod
    def bid_payloads(bids: Plan) -> list[tuple[uuid.UUID, str, dict[str, Any]]]:
        return [
            (
                b.bid_id,
                "bid",
                {"investor": b.investor, "invoice": b.invoice, "bid_id": str(b.bid_id)}
                | {"amount": b.amount},
            )
            for b in bids.bids
        ]

    async def enqueue_all(self, commands: list[tuple[uuid.UUID, str, dict[str, Any]]]) -> None:
        """Queue a backlog in one transaction (before the clock starts)."""
        async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.executemany(ENQUEUE, [(i, t, Jsonb(p)) for i, t, p in commands])

    # -- the door ------------------------------------------------------------------------------

    async def submit(
        self, command_id: uuid.UUID, command_type: str, payload: dict[str, Any]
    ) -> None:
        """Queue one command in its own transaction and wake the workers."""
        async with self.pool.connection() as conn:
            await conn.execute(ENQUEUE, (command_id, command_type, Jsonb(payload)))
        self.wake.set()

    # -- direct handling -----------------------------------------------------------------------

    async def deposit(self, account: str, amount: int) -> None:
        """A deposit appended at once with its version check (no queue)."""
        async with self._turns[account]:
            while True:
                investor = self.investors[account]
                row = self._row(account, investor.version + 1, "FundsDeposited", {"amount": amount})
                try:
                    async with self.pool.connection() as conn:
                        await conn.execute(INSERT_EVENT, row)
                except psycopg.errors.UniqueViolation:
                    await self._reload(account)
                    continue
                investor.version += 1
                investor.available += amount
                return

    # -- the workers ---------------------------------------------------------------------------

    async def work(self, stop: asyncio.Event, mode: Mode = "each") -> None:
        """Claim commands and run them until ``stop`` (see :data:`Mode`)."""
        while not stop.is_set():
            self.wake.clear()
            async with self.pool.connection() as conn:
                claimed = await (await conn.execute(CLAIM, (BATCH,))).fetchall()
            if not claimed:
                waits = [asyncio.ensure_future(e.wait()) for e in (self.wake, stop)]
                await asyncio.wait(waits, timeout=POLL_S, return_when=asyncio.FIRST_COMPLETED)
                for waiting in waits:
                    waiting.cancel()
                continue
            if mode == "each":
                await asyncio.gather(*(self._run([row]) for row in claimed))
            elif mode == "batch":
                await self._run(claimed)
            else:
                async with self.pool.connection() as conn:
                    await conn.execute(FINISH_MANY, ([row[0] for row in claimed],))
                self.done += len(claimed)

    async def _run(self, commands: Sequence[tuple[uuid.UUID, str, dict[str, Any]]]) -> None:
        """Decide ``commands`` in order and commit them in one transaction, their streams'
        turns held; after a failed commit, reload those streams and decide again."""
        streams = sorted({_stream_of(kind, payload) for _, kind, payload in commands})
        async with contextlib.AsyncExitStack() as turns:
            for stream in streams:
                await turns.enter_async_context(self._turns[stream])
            while True:
                rows = [self._step(*command) for command in commands]
                try:
                    await self._commit(rows)
                except psycopg.errors.UniqueViolation:
                    for stream in streams:
                        await self._reload(stream)
                    continue
                break
        self.done += len(commands)
        now = time.perf_counter()
        for _, kind, payload in commands:
            if kind in ("commit", "release"):
                self.ended.setdefault(payload["bid_id"], now)
        if any(follow for _, follow, _ in rows):
            self.wake.set()

    def _step(self, command_id: uuid.UUID, kind: str, payload: dict[str, Any]) -> _Rows:
        """The rows one command writes: its event at the stream's next version, the command
        that follows it, its outcome. The state moves on at once (reloaded if the commit
        fails)."""
        decision = self._decide(kind, payload)
        if decision is None:
            return None, None, ("refused", Jsonb({"error": "insufficient_funds"}), command_id)
        state = self.investors.get(decision.stream_id) or self.invoices[decision.stream_id]
        state.version += 1
        decision.apply()
        event_id = uuid.uuid5(command_id, "0")
        metadata = {"causation_id": str(command_id), "correlation_id": payload.get("bid_id")}
        event = (
            decision.stream_id,
            state.version,
            event_id,
            decision.event_type,
            Jsonb(decision.data),
            Jsonb(metadata),
        )
        follow = None
        if decision.follow is not None:
            next_kind, next_payload = decision.follow
            follow = (_follow_id(event_id), next_kind, Jsonb(next_payload))
        outcome = Jsonb({"stream_id": decision.stream_id, "version": state.version})
        return event, follow, ("done", outcome, command_id)

    async def _commit(self, rows: list[_Rows]) -> None:
        """One transaction, one round trip: the events, the follow-ups, the outcomes."""
        events = [event for event, _, _ in rows if event is not None]
        follows = [follow for _, follow, _ in rows if follow is not None]
        async with (
            self.pool.connection() as conn,
            conn.pipeline(),
            conn.transaction(),
            conn.cursor() as cur,
        ):
            if events:
                await cur.executemany(INSERT_EVENT, events)
            if follows:
                await cur.executemany(ENQUEUE_NEXT, follows)
            await cur.executemany(FINISH, [finish for _, _, finish in rows])

    def _decide(self, kind: str, p: dict[str, Any]) -> _Decision | None:
        """The event a command records and the command that follows it (None: refused)."""
        if kind == "deposit":
            account = self.investors[p["investor"]]

            def deposited() -> None:
                account.available += p["amount"]

            return _Decision(p["investor"], "FundsDeposited", {"amount": p["amount"]}, deposited)
        if kind == "bid":
            investor = self.investors[p["investor"]]
            if p["amount"] > investor.available:
                return None

            def reserved() -> None:
                investor.available -= p["amount"]
                investor.reserved[p["bid_id"]] = (p["invoice"], p["amount"])

            data = {"bid_id": p["bid_id"], "invoice_id": p["invoice"], "amount": p["amount"]}
            data["currency"] = CURRENCY
            return _Decision(p["investor"], "FundsReserved", data, reserved, ("finance", p))
        if kind == "finance":
            invoice = self.invoices[p["invoice"]]
            answer = {"bid_id": p["bid_id"], "investor_id": p["investor"]}
            if invoice.financed_by is None and p["amount"] == invoice.amount:

                def financed() -> None:
                    invoice.financed_by = p["bid_id"]

                data = answer | {"amount": p["amount"]}
                return _Decision(p["invoice"], "InvoiceFinanced", data, financed, ("commit", p))
            reason = {"reason": "already_financed"}
            follow = ("release", p | reason)
            return _Decision(p["invoice"], "BidRejected", answer | reason, _nothing, follow)
        investor = self.investors[p["investor"]]
        invoice_id, amount = investor.reserved[p["bid_id"]]

        def settled() -> None:
            del investor.reserved[p["bid_id"]]
            if kind == "release":
                investor.available += amount

        data = {"bid_id": p["bid_id"], "invoice_id": invoice_id, "amount": amount}
        if kind == "release":
            return _Decision(
                p["investor"], "FundsReleased", data | {"reason": p["reason"]}, settled
            )
        return _Decision(p["investor"], "FundsCommitted", data, settled)

    async def _reload(self, stream: str) -> None:
        """Rebuild one stream's state from its events (after another writer moved it)."""
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(STREAM, (stream,))).fetchall()
        if stream in self.invoices:
            invoice = self.invoices[stream] = _Invoice()
            for version, event_type, data in rows:
                invoice.version = version
                if event_type == "InvoicePutForSale":
                    invoice.amount, invoice.currency = data["amount"], data["currency"]
                elif event_type == "InvoiceFinanced":
                    invoice.financed_by = data["bid_id"]
            return
        investor = self.investors[stream] = _Investor()
        for version, event_type, data in rows:
            investor.version = version
            if event_type in ("FundsDeposited", "FundsReleased"):
                investor.available += data["amount"]
            if event_type == "FundsReserved":
                investor.available -= data["amount"]
                investor.reserved[data["bid_id"]] = (data["invoice_id"], data["amount"])
            elif event_type in ("FundsReleased", "FundsCommitted"):
                del investor.reserved[data["bid_id"]]


def _nothing() -> None:
    pass


def _stream_of(kind: str, payload: dict[str, Any]) -> str:
    return str(payload["invoice"] if kind == "finance" else payload["investor"])
