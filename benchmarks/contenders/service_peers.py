"""The service load benchmark's other contenders: the bank-account HTTP API's two commands
(open an account, deposit) over raw SQL (the limit) and over the ``eventsourcing`` library
(the peer), on the same HTTP stack as ``eskit serve``: FastAPI on uvicorn (httptools and
uvloop, with the same garbage-collector policy), with the service's own request and answer
models.

* raw psycopg: ``async`` endpoints over a ``psycopg_pool.AsyncConnectionPool`` of 16
  connections (eskit's default pool size). A deposit is one transaction: ``SELECT
  max(version)`` of the stream, then the INSERT of the event at the next version; the
  unique ``(stream_id, version)`` guards concurrent deposits, which retry on a violation.
* raw sqlite3: the same statements in one ``BEGIN IMMEDIATE`` transaction on a WAL file
  with ``synchronous=FULL``, in ``def`` endpoints (FastAPI's thread pool), writers taking
  turns on a lock (see ``contenders.raw_sql.RawSQLite``).
* eventsourcing: ``def`` endpoints (its calls block, so they run in FastAPI's thread pool)
  over an ``Application`` and the ``EsAccount`` aggregate: ``repository.get`` (replaying
  the stream, no cache), ``deposit``, ``save``, retried on a ``RecordConflictError``.
  PostgreSQL (a pool of 16, the library's defaults otherwise) or SQLite.

Run as ``python -m contenders.service_peers raw|eventsourcing --port P --database-url URL``
(``postgresql://…`` or ``sqlite:///path``) with ``benchmarks/`` on ``PYTHONPATH`` (as
``harness.python_processes`` starts it); it serves on 127.0.0.1 until SIGTERM.
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
import uvicorn
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError
from fastapi import FastAPI, HTTPException
from psycopg_pool import AsyncConnectionPool
from uuid_utils.compat import uuid7

from bank_accounts.http_api import AccountId, CommandReply, CreateAccount, Payment
from contenders.eventsourcing_peer import EsAccount, EsBank, postgres_env, sqlite_env
from contenders.raw_sql import (
    DEPOSITED,
    OPENED,
    PG_INSERT,
    SQLITE_INSERT,
    RawSQLite,
    pg_create_table,
    rows_for,
)
from eskit.serving.gc_policy import freeze_startup_objects
from workloads.account_events import CURRENCY

__all__ = ["POOL_SIZE", "eventsourcing_app", "raw_postgres_app", "raw_sqlite_app"]

POOL_SIZE = 16
"""Connections of each contender's pool, as eskit's PostgreSQL store has by default."""
RETRIES = 20
"""Attempts of a deposit that keeps losing races on its stream."""
MAX_VERSION = "SELECT max(version) FROM raw_events WHERE stream_id = %s"

Endpoint = Callable[..., Any]


def _deposit_data(body: Payment) -> dict[str, Any]:
    return {"amount": body.amount, "currency": CURRENCY, "payment_id": body.payment_id}


def _app(lifespan: Any, create: Endpoint, deposit: Endpoint) -> FastAPI:
    """The two routes (as the service declares them) and a readiness check."""
    app = FastAPI(lifespan=lifespan)
    app.get("/health/ready")(_ready)
    app.post("/api/v1/accounts", status_code=201, response_model=CommandReply)(create)
    app.post("/api/v1/accounts/{account_id}/deposit", response_model=CommandReply)(deposit)
    return app


async def _ready() -> dict[str, str]:
    return {"status": "ok"}


def _conflict() -> HTTPException:
    return HTTPException(409, f"the deposit lost the race on its stream {RETRIES} times")


# -- raw psycopg ------------------------------------------------------------------------


def raw_postgres_app(url: str) -> FastAPI:
    """Raw psycopg behind the service's two routes."""
    pool = AsyncConnectionPool(
        url, min_size=POOL_SIZE, max_size=POOL_SIZE, open=False, kwargs={"autocommit": True}
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=True)
        yield
        await pool.close()

    async def create_account(body: CreateAccount) -> CommandReply:
        stream = str(uuid7())
        row = rows_for(stream, 1, [(OPENED, body.model_dump())])[0]
        async with pool.connection() as conn:
            await conn.execute(PG_INSERT, row)
        return CommandReply(id=stream, version=1)

    async def deposit(account_id: AccountId, body: Payment) -> CommandReply:
        data = _deposit_data(body)
        for _ in range(RETRIES):
            try:
                async with pool.connection() as conn, conn.transaction():
                    cursor = await conn.execute(MAX_VERSION, (account_id,))
                    found = await cursor.fetchone()
                    if found is None or found[0] is None:
                        raise HTTPException(404, f"no account {account_id}")
                    version = int(found[0]) + 1
                    row = rows_for(account_id, version, [(DEPOSITED, data)])[0]
                    await conn.execute(PG_INSERT, row)
            except psycopg.errors.UniqueViolation:
                continue
            return CommandReply(id=account_id, version=version)
        raise _conflict()

    return _app(lifespan, create_account, deposit)


# -- raw sqlite3 ------------------------------------------------------------------------


def raw_sqlite_app(path: Path) -> FastAPI:
    """Raw sqlite3 behind the service's two routes (thread-pool endpoints)."""
    db = RawSQLite(path)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        db.close()

    def create_account(body: CreateAccount) -> CommandReply:
        stream = str(uuid7())
        row = rows_for(stream, 1, [(OPENED, body.model_dump())])[0]
        db.insert([row])
        return CommandReply(id=stream, version=1)

    def deposit(account_id: AccountId, body: Payment) -> CommandReply:
        data = _deposit_data(body)
        conn = db.connection()
        with db.write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                found = conn.execute(MAX_VERSION.replace("%s", "?"), (account_id,)).fetchone()
                if found is None or found[0] is None:
                    raise HTTPException(404, f"no account {account_id}")
                version = int(found[0]) + 1
                row = rows_for(account_id, version, [(DEPOSITED, data)])[0]
                conn.execute(SQLITE_INSERT, (*row[:3], str(row[3]), *row[4:]))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return CommandReply(id=account_id, version=version)

    return _app(lifespan, create_account, deposit)


# -- eventsourcing ----------------------------------------------------------------------


def eventsourcing_app(env: dict[str, str]) -> FastAPI:
    """The eventsourcing library behind the service's two routes (thread-pool endpoints)."""
    bank: list[EsBank] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bank.append(EsBank(env=env))
        yield
        bank.pop().close()

    def create_account(body: CreateAccount) -> CommandReply:
        account = EsAccount(**body.model_dump())
        bank[0].save(account)
        return CommandReply(id=str(account.id), version=account.version)

    def deposit(account_id: AccountId, body: Payment) -> CommandReply:
        app = bank[0]
        for _ in range(RETRIES):
            try:
                account: EsAccount = app.repository.get(uuid.UUID(account_id))
            except (AggregateNotFoundError, ValueError) as exc:
                raise HTTPException(404, f"no account {account_id}") from exc
            account.deposit(**_deposit_data(body))
            try:
                app.save(account)
            except RecordConflictError:
                continue
            return CommandReply(id=account_id, version=account.version)
        raise _conflict()

    return _app(lifespan, create_account, deposit)


# -- the process ------------------------------------------------------------------------


def build(kind: str, url: str) -> FastAPI:
    """The app of contender ``kind`` (``raw`` or ``eventsourcing``) over ``url``."""
    sqlite = url.startswith("sqlite:///")
    path = Path(url.removeprefix("sqlite:///"))
    if kind == "raw":
        if sqlite:
            return raw_sqlite_app(path)
        pg_create_table(url)
        return raw_postgres_app(url)
    env = sqlite_env(path) if sqlite else postgres_env(url, pool_size=POOL_SIZE)
    return eventsourcing_app(env)


def main(argv: list[str] | None = None) -> None:
    """Serve one contender on 127.0.0.1 until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("kind", choices=["raw", "eventsourcing"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args(argv)
    app = build(args.kind, args.database_url)
    freeze_startup_objects()  # as eskit serve does once it is up
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
    )


if __name__ == "__main__":
    main()
