"""Projection catch-up on PostgreSQL: the ``eventsourcing`` library's side (the peer).

The read model is "accounts by id", one row per account in a table of ``id text PRIMARY
KEY, version int, body jsonb``; ``version`` is the stream version of the last event folded
in, ``body`` holds ``email``, ``name``, ``balance``, ``currency`` and ``updated_position``
(the log position of that event). Every event is one read-modify-write of its account's
row, and the read model moves together with the position it has reached: both are written
in one transaction, so a crash never applies an event twice.

eventsourcing 9.5, as its docs show it: a ``Projection`` whose ``process_event`` calls a
command of its materialised view, a ``PostgresTrackingRecorder`` subclass that writes the
row and the tracking record in one transaction, driven by the library's projection runner
over an ``ApplicationSubscription``. That API hands over one event at a time, so there is
one transaction per event (``batch=None``). With ``batch=n`` the same view and
subscription are driven by a loop of our own that groups ``n`` events per transaction,
which the library does not offer: the fairer comparison with a batching runner.

The log is the workload's (``workloads.account_events.account_event``), written through
the library (:func:`preload_eventsourcing`).

``python -m contenders.eventsourcing_projection`` (from ``benchmarks/``) runs a
self-check with an embedded PostgreSQL (200 accounts x 50 events).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from eventsourcing.domain import DomainEventProtocol, event
from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import ApplicationSubscription, BaseProjectionRunner, Projection
from eventsourcing.utils import Environment, get_topic
from psycopg.sql import SQL, Composed, Identifier
from psycopg.types.json import Jsonb

from contenders.eventsourcing_peer import PUT_CHUNK, EsAccount, EsBank, postgres_env
from contenders.raw_sql import pg_connect
from workloads.account_events import (
    DEPOSITED,
    EMAIL_CHANGED,
    OPENED,
    WITHDRAWN,
    account_event,
    expected_balance,
    opened_data,
)

__all__ = [
    "ES_VIEW_TABLE",
    "EsAccountsProjection",
    "EsAccountsView",
    "check_read_model",
    "eventsourcing_catchup",
    "fold",
    "preload_eventsourcing",
]

Body = dict[str, Any]
"""An account row's ``body``."""

ES_VIEW_TABLE = "accounts_by_id"
"""The eventsourcing read model (its tracking table is ``accounts_by_id_tracking``)."""


def fold(body: Body | None, kind: str, fields: Mapping[str, Any], position: int) -> Body:
    """The row's body after one event (``body`` is changed in place when there is one)."""
    if kind == OPENED:
        body = {
            "email": fields["email"],
            "name": f"{fields['first_name']} {fields['last_name']}",
            "balance": fields["balance"],
            "currency": fields["currency"],
        }
    elif body is None:  # the log says the account exists: a missing row is a bug
        raise LookupError(f"{kind} at position {position} for an account with no row")
    elif kind == DEPOSITED:
        body["balance"] += fields["amount"]
    elif kind == WITHDRAWN:
        body["balance"] -= fields["amount"]
    elif kind == EMAIL_CHANGED:
        body["email"] = fields["email"]
    else:
        return body  # not an account event: the row stays as it was
    body["updated_position"] = position
    return body


def check_read_model(url: str, table: str, n_accounts: int, events_per_account: int) -> None:
    """Raise unless ``table`` holds ``n_accounts`` rows, each fully caught up."""
    balance = expected_balance(events_per_account)
    query = SQL(
        "SELECT count(*), count(*) FILTER (WHERE version = %s "
        "AND (body->>'balance')::bigint = %s AND body ? 'updated_position') FROM {}"
    ).format(Identifier(table))
    with pg_connect(url) as conn:
        row = conn.execute(query, (events_per_account, balance)).fetchone()
    rows, right = row if row else (0, 0)
    if rows != n_accounts or right != n_accounts:
        raise AssertionError(
            f"{table}: {rows} rows ({right} with version {events_per_account} and balance "
            f"{balance}), expected {n_accounts}"
        )


# -- eventsourcing: the write side -------------------------------------------------------


class EsProjAccount(EsAccount):
    """The peer's ``EsAccount`` plus the withdrawals and e-mail changes of this workload."""

    @event(WITHDRAWN)
    def withdraw(self, amount: int, currency: str, payment_id: str) -> None:
        self.balance -= amount
        self.payments[payment_id] = ("withdrawal", amount)

    @event(EMAIL_CHANGED)
    def change_email(self, email: str) -> None:
        self.email = email


_ES_CLASSES: dict[str, Any] = {
    OPENED: EsProjAccount.AccountOpened,  # type: ignore[attr-defined]
    DEPOSITED: EsAccount.MoneyDeposited,  # type: ignore[attr-defined]
    WITHDRAWN: EsProjAccount.MoneyWithdrawn,  # type: ignore[attr-defined]
    EMAIL_CHANGED: EsProjAccount.EmailChanged,  # type: ignore[attr-defined]
}
"""eventsourcing's event class of each kind (MoneyDeposited is ``EsAccount``'s, as in the
peer's other preloads)."""


def _es_account_events(index: int, events_per_account: int) -> list[Any]:
    """Account ``index``'s stream as eventsourcing domain events: the opening one from the
    aggregate, the others built directly as ``eventsourcing_peer.deposits`` does."""
    account = EsProjAccount(**opened_data(index))
    stream: list[Any] = list(account.collect_events())
    now: datetime = EsAccount.MoneyDeposited.create_timestamp()  # type: ignore[attr-defined]
    for version in range(2, events_per_account + 1):
        kind, fields = account_event(index, version)
        stream.append(
            _ES_CLASSES[kind](
                originator_id=account.id, originator_version=version, timestamp=now, **fields
            )
        )
    return stream


def preload_eventsourcing(url: str, n_accounts: int, events_per_account: int) -> int:
    """Write the workload through an eventsourcing application into the empty database
    ``url``; returns the number of events written.

    Appends go through ``app.events.put`` in chunks of ``eventsourcing_peer.PUT_CHUNK``
    events, as the peer's other preloads do; the table is vacuumed afterwards, like
    read-all's.
    """
    app = EsBank(env=postgres_env(url, pool_size=1))
    try:
        chunk: list[Any] = []
        for index in range(n_accounts):
            chunk += _es_account_events(index, events_per_account)
            if len(chunk) >= PUT_CHUNK:
                app.events.put(chunk)
                chunk = []
        if chunk:
            app.events.put(chunk)
    finally:
        app.close()
    with pg_connect(url) as conn:
        conn.execute(SQL("VACUUM ANALYZE {}").format(Identifier(_es_events_table())))
    return n_accounts * events_per_account


def _es_events_table() -> str:
    return f"{EsBank.name.lower()}_events"


# -- eventsourcing: the read side --------------------------------------------------------


class EsAccountsView(PostgresTrackingRecorder):
    """The materialised view: the accounts table next to the library's tracking table.

    Built by an infrastructure factory like any tracking recorder; its commands take the
    event's ``Tracking`` and record it in the transaction that changes the rows, as the
    library's docs do it (its own tests' ``PostgresEventCounters`` is the model).
    """

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        # the tracking table is "<projection name>_tracking": the rows take the bare name
        table = Identifier(self.datastore.schema), Identifier(ES_VIEW_TABLE)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {}.{} "
                "(id text PRIMARY KEY, version integer NOT NULL, body jsonb NOT NULL)"
            ).format(*table)
        )
        self._select_one: Composed = SQL("SELECT version, body FROM {}.{} WHERE id = %s").format(
            *table
        )
        self._select_many: Composed = SQL(
            "SELECT id, version, body FROM {}.{} WHERE id = ANY(%s)"
        ).format(*table)
        self._upsert: Composed = SQL(
            "INSERT INTO {}.{} (id, version, body) VALUES (%s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET version = excluded.version, body = excluded.body"
        ).format(*table)

    def apply(self, domain_event: DomainEventProtocol[Any], tracking: Tracking) -> None:
        """One event: read its account's row, fold, write it back, track; one transaction."""
        account_id = str(domain_event.originator_id)
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, tracking)
            curs.execute(self._select_one, (account_id,), prepare=True)
            row = curs.fetchone()
            body = fold(
                row["body"] if row else None,
                type(domain_event).__name__,
                vars(domain_event),
                tracking.notification_id,
            )
            params = (account_id, domain_event.originator_version, Jsonb(body))
            curs.execute(self._upsert, params, prepare=True)

    def apply_batch(self, batch: Sequence[tuple[DomainEventProtocol[Any], Tracking]]) -> None:
        """Many events: their rows read in one query, written back with one executemany,
        tracked at the last event; one transaction."""
        ids = list(dict.fromkeys(str(e.originator_id) for e, _ in batch))
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, batch[-1][1])
            curs.execute(self._select_many, (ids,), prepare=True)
            rows = {r["id"]: (r["version"], r["body"]) for r in curs.fetchall()}
            for domain_event, tracking in batch:
                account_id = str(domain_event.originator_id)
                _, body = rows.get(account_id, (0, None))
                kind = type(domain_event).__name__
                body = fold(body, kind, vars(domain_event), tracking.notification_id)
                rows[account_id] = (domain_event.originator_version, body)
            params = [(i, version, Jsonb(body)) for i, (version, body) in rows.items()]
            curs.executemany(self._upsert, params)


class EsAccountsProjection(Projection[EsAccountsView]):
    """The projection: each account event goes to the view's ``apply``.

    ``caught_up`` is set once the event at ``target`` (a notification id) is processed:
    the runner's own ``wait`` polls the tracking table with a back-off of 0.1 s to 0.8 s,
    too coarse to time a catch-up of a few seconds.
    """

    name = ES_VIEW_TABLE
    # only account events are read (the database filters them), like eskit's stream_types
    topics = tuple(get_topic(cls) for cls in _ES_CLASSES.values())

    def __init__(self, view: EsAccountsView, target: int) -> None:
        super().__init__(view)
        self.target = target
        self.caught_up = threading.Event()

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Apply one event and record its tracking, in one transaction."""
        self.view.apply(domain_event, tracking)
        if tracking.notification_id >= self.target:
            self.caught_up.set()


def eventsourcing_catchup(
    url: str, n_accounts: int, events_per_account: int, *, batch: int | None = None
) -> tuple[float, int]:
    """Project the whole log of ``url`` (see :func:`preload_eventsourcing`) from the start.

    The view's tables are dropped first (untimed). ``batch=None``: the library's projection
    runner, one transaction per event. ``batch=n``: the same view fed by an
    ``ApplicationSubscription`` in groups of ``n``, one transaction per group. Times from
    the start of the runner (or subscription) until the last event is committed; returns
    ``(seconds, events processed)`` and raises AssertionError if the rows are not right.
    """
    # a subscription keeps one connection for LISTEN and pulls pages on another
    env = postgres_env(url, pool_size=2)
    target = _es_reset(url)
    factory = InfrastructureFactory[EsAccountsView].construct(
        env=Environment(EsAccountsProjection.name, env)
    )
    try:
        view = factory.tracking_recorder(EsAccountsView)
        if batch is None:
            seconds = _es_run_runner(view, env, target)
        else:
            seconds = _es_run_batches(view, env, target, batch)
        events = _es_tracked(view, target)
    finally:
        factory.close()
    check_read_model(url, ES_VIEW_TABLE, n_accounts, events_per_account)
    return seconds, events


def _es_reset(url: str) -> int:
    """Drop the view's tables; returns the log's last notification id (the target)."""
    with pg_connect(url) as conn:
        conn.execute(
            SQL("DROP TABLE IF EXISTS {}, {}").format(
                Identifier(ES_VIEW_TABLE), Identifier(f"{ES_VIEW_TABLE}_tracking")
            )
        )
        query = SQL("SELECT max(notification_id) FROM {}").format(Identifier(_es_events_table()))
        row = conn.execute(query).fetchone()
    if not row or row[0] is None:
        raise ValueError("the eventsourcing log is empty: run preload_eventsourcing first")
    return int(row[0])


def _es_run_runner(view: EsAccountsView, env: dict[str, str], target: int) -> float:
    """The library's runner over our projection until ``target`` is processed.

    ``BaseProjectionRunner`` is ``ProjectionRunner`` minus building the view and the
    projection from their classes, which lets the projection carry its target.
    """
    projection = EsAccountsProjection(view, target)
    started = time.perf_counter()
    with BaseProjectionRunner(
        projection=projection,
        application_class=EsBank,
        tracking_recorder=view,
        topics=projection.topics,
        env=env,
    ) as runner:
        while not projection.caught_up.wait(0.05):
            if runner.is_interrupted.is_set():  # the processing thread died
                runner.run_forever(timeout=0)  # re-raises its error
                raise RuntimeError("the projection runner stopped before catching up")
        seconds = time.perf_counter() - started
    return seconds


def _es_run_batches(view: EsAccountsView, env: dict[str, str], target: int, size: int) -> float:
    """The same view fed by the library's subscription, ``size`` events per transaction."""
    app = EsBank(env=env)
    try:
        started = time.perf_counter()
        tracked = view.max_tracking_id(app.name)
        topics = EsAccountsProjection.topics
        with ApplicationSubscription(app, gt=tracked, topics=topics) as subscription:
            for batch in _batches(subscription, target, size):
                view.apply_batch(batch)
        return time.perf_counter() - started
    finally:
        app.close()


def _batches(
    subscription: ApplicationSubscription[Any], target: int, size: int
) -> Iterator[list[tuple[DomainEventProtocol[Any], Tracking]]]:
    """Groups of up to ``size`` events, the last one ending at ``target``.

    A subscription never ends by itself (it waits for new events): the target is how a
    catch-up knows it is done, and it cuts the last group short.
    """
    batch: list[tuple[DomainEventProtocol[Any], Tracking]] = []
    for item in subscription:
        batch.append(item)
        done = item[1].notification_id >= target
        if len(batch) == size or done:
            yield batch
            batch = []
        if done:
            return


def _es_tracked(view: EsAccountsView, target: int) -> int:
    """Events processed: a fresh view starts at 0, so it is the tracked position."""
    tracked = view.max_tracking_id(EsBank.name)
    if tracked != target:
        raise AssertionError(f"tracking at {tracked}, the log ends at {target}")
    return target


# -- self-check --------------------------------------------------------------------------


def _self_check(n_accounts: int = 200, events_per_account: int = 50) -> None:
    from harness import postgres_server

    with postgres_server.start() as cluster, cluster.empty_database() as url:
        print("server:", cluster.settings())
        preload_eventsourcing(url, n_accounts, events_per_account)
        for size in (None, 100, 1000):
            label = f"eventsourcing ({'runner, 1 event/txn' if size is None else size})"
            seconds, events = eventsourcing_catchup(url, n_accounts, events_per_account, batch=size)
            print(
                f"{label:<44} {events:>7,} events {seconds:7.2f} s {events / seconds:>10,.0f} ev/s"
            )


if __name__ == "__main__":
    _self_check()
