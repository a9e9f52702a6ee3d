"""The peer: the ``eventsourcing`` library (9.5), configured the way its docs say.

PostgreSQL: ``PERSISTENCE_MODULE=eventsourcing.postgres`` with its defaults (each append
takes ``LOCK TABLE … IN EXCLUSIVE MODE``; ``POSTGRES_ENABLE_DB_FUNCTIONS`` stays off); only
the pool is sized to the number of writer threads so each has its own connection.
SQLite: ``PERSISTENCE_MODULE=eventsourcing.sqlite`` on a file (WAL; SQLite's default
``synchronous`` is FULL here, like eskit's).

Appends go through ``app.events.put`` (its mapper + application recorder): the library
encodes its own domain events exactly as an application's ``save`` would, minus the
aggregate bookkeeping.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from harness.postgres_server import database_name, socket_dir
from workloads.account_events import deposit_data, opened_data

__all__ = [
    "PUT_CHUNK",
    "EsAccount",
    "EsBank",
    "deposits",
    "new_account",
    "postgres_env",
    "sqlite_env",
]

PUT_CHUNK = 1_000
"""Events per insert when preloading: with 6,000+ events in one insert, the library's
pipelined INSERT deadlocks on the Unix socket (client and server both wait to read)."""


class EsAccount(Aggregate):
    """The bank account of the benchmark, in eventsourcing's declarative style."""

    @event("AccountOpened")
    def __init__(
        self,
        email: str,
        address: str,
        first_name: str,
        last_name: str,
        balance: int,
        currency: str,
        status: str,
    ) -> None:
        self.email = email
        self.address = address
        self.first_name = first_name
        self.last_name = last_name
        self.balance = balance
        self.currency = currency
        self.status = status
        self.payments: dict[str, tuple[str, int]] = {}

    @event("MoneyDeposited")
    def deposit(self, amount: int, currency: str, payment_id: str) -> None:
        self.balance += amount
        self.payments[payment_id] = ("deposit", amount)


class EsBank(Application[uuid.UUID]):
    """The application: its repository, recorder, mapper and notification log."""


def postgres_env(url: str, *, pool_size: int, snapshots: bool = False) -> dict[str, str]:
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": database_name(url),
        "POSTGRES_HOST": socket_dir(url),
        "POSTGRES_PORT": "5432",
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "",
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": "0",
    }
    if snapshots:
        env["IS_SNAPSHOTTING_ENABLED"] = "y"
    return env


def sqlite_env(path: Path, *, snapshots: bool = False) -> dict[str, str]:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    if snapshots:
        env["IS_SNAPSHOTTING_ENABLED"] = "y"
    return env


def new_account(index: int) -> EsAccount:
    data = opened_data(index)
    return EsAccount(**data)


def deposits(originator_id: uuid.UUID, first_version: int, count: int) -> list[Any]:
    """``count`` MoneyDeposited domain events continuing a stream at ``first_version``."""
    cls: Any = EsAccount.MoneyDeposited  # type: ignore[attr-defined]
    now: datetime = cls.create_timestamp()
    return [
        cls(
            originator_id=originator_id,
            originator_version=first_version + i,
            timestamp=now,
            **deposit_data(first_version + i),
        )
        for i in range(count)
    ]
