"""``eskit relay``, ``eskit consume`` and ``eskit dead-letters``: the bus from the command line."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import orjson
import typer
from rich.table import Table

from eskit.cli.context import DatabaseUrl, ServiceOption, console, run_with_store, serve_metrics
from eskit.cli.lease_cells import LEASE_COLUMNS, lease_cells
from eskit.cli.serve import redacted
from eskit.errors import ConfigurationError
from eskit.messaging import Bus
from eskit.messaging.background import IN_PROCESS_LEASE, MessagingTasks
from eskit.messaging.consumer import Consumer, ConsumerRunner, dead_letter_type
from eskit.messaging.relay import CHECKPOINT_PREFIX
from eskit.observability.collector import MetricsCollector, collector_for
from eskit.observability.logs import configure_logging
from eskit.observability.tracing import configure_tracing
from eskit.serving.messaging import bus_for, messaging_tasks
from eskit.serving.service import load_service, service_name
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend, require_transactions
from eskit.store.leases import lease_info

__all__ = ["consume_command", "dead_letters_app", "relay_app"]

BusUrl = Annotated[
    str | None,
    typer.Option("--bus-url", envvar="ESKIT_BUS_URL", help="kafka://host:port or nats://host:port"),
]

relay_app = typer.Typer(help="The relay: the event store published to the bus.")
dead_letters_app = typer.Typer(help="Messages a consumer gave up on.", no_args_is_help=True)


def _require_bus(settings: EskitSettings) -> None:
    if not settings.bus_url:
        raise ConfigurationError("no bus configured: pass --bus-url or set ESKIT_BUS_URL")


async def _until_signal(
    tasks: MessagingTasks, settings: EskitSettings, metrics: MetricsCollector
) -> None:
    configure_tracing(service_name(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await tasks.start()
    metrics.start()
    try:
        await stop.wait()
    finally:
        await metrics.stop()
        await tasks.stop()


@relay_app.callback(invoke_without_command=True)
def relay(ctx: typer.Context, database_url: DatabaseUrl = None, bus_url: BusUrl = None) -> None:
    """Publish the store's events to the bus until SIGTERM (``eskit relay status``: where it is)."""
    if ctx.invoked_subcommand is not None:
        return

    async def work(store: EventStoreBackend, settings: EskitSettings) -> None:
        configure_logging(settings)
        tasks = _tasks(store, settings, consumers=[], relay=True)
        bus = redacted(settings.bus_url)
        console.print(f"relaying to {bus} under {settings.bus_prefix!r}")
        serve_metrics(settings)
        await _until_signal(tasks, settings, collector_for(store, settings, database=True))

    run_with_store(database_url, work, bus_url=bus_url)
    console.print("stopped")


@relay_app.command("status")
def relay_status(database_url: DatabaseUrl = None) -> None:
    """Every relay's position, lag and, when stalled, why (as the relays stored it), and
    which process runs it (its lease: holder, since when, last heartbeat)."""

    async def work(store: EventStoreBackend, settings: EskitSettings) -> None:
        db = require_transactions(store, "relay status")
        head = await store.last_position()
        leases = {lease.name: lease for lease in await db.committed.leases.list()}
        table = Table("relay", "position", "lag", "state", *LEASE_COLUMNS, "error")
        for name, row in sorted((await db.committed.checkpoints.all()).items()):
            if name.startswith(CHECKPOINT_PREFIX):
                state = "stalled" if row.error else "ok"
                # on the in-process bus the relay runs under the lease of its whole process
                lease = leases.get(name) or leases.get(IN_PROCESS_LEASE)
                table.add_row(
                    name.removeprefix(CHECKPOINT_PREFIX),
                    str(row.position),
                    str(max(head - row.position, 0)),
                    state,
                    *lease_cells(lease_info(lease)),
                    row.error or "",
                )
        console.print(table)

    run_with_store(database_url, work)


def _consumers(
    settings: EskitSettings, store: EventStoreBackend, names: list[str]
) -> list[Consumer]:
    service = load_service(settings.service)
    consumers = list(service.build(store, settings).consumers)
    known = {c.name: c for c in consumers}
    unknown = [n for n in names if n not in known]
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise ConfigurationError(f"unknown consumer {', '.join(unknown)}: known are {listed}")
    return [known[n] for n in names] if names else consumers


def _tasks(
    store: EventStoreBackend,
    settings: EskitSettings,
    *,
    consumers: list[Consumer],
    relay: bool,
) -> MessagingTasks:
    _require_bus(settings)
    tasks = messaging_tasks(store, settings, consumers, relay=relay)
    assert tasks is not None  # a bus URL is set
    return tasks


def _consumer_and_bus(
    settings: EskitSettings, store: EventStoreBackend, name: str
) -> tuple[Consumer, Bus]:
    """The consumer ``name`` of the configured service, and the configured bus."""
    _require_bus(settings)
    [consumer] = _consumers(settings, store, [name])
    return consumer, bus_for(settings)


def consume_command(
    names: Annotated[
        list[str] | None, typer.Argument(help="Consumers to run (default: all).")
    ] = None,
    database_url: DatabaseUrl = None,
    service: ServiceOption = None,
    bus_url: BusUrl = None,
) -> None:
    """Run the service's bus consumers in this process until SIGTERM."""

    async def work(store: EventStoreBackend, settings: EskitSettings) -> None:
        configure_logging(settings)
        _require_bus(settings)
        consumers = _consumers(settings, store, names or [])
        tasks = _tasks(store, settings, consumers=consumers, relay=False)
        console.print(f"consuming {', '.join(c.name for c in consumers)} from {settings.bus_url}")
        names_run = ", ".join(c.name for c in consumers)
        console.print(f"consuming {names_run} from {redacted(settings.bus_url)}")
        serve_metrics(settings)
        await _until_signal(tasks, settings, collector_for(store, settings, database=False))

    run_with_store(database_url, work, service=service, bus_url=bus_url)
    console.print("stopped")


@dead_letters_app.command("list")
def dead_letters_list(
    name: Annotated[str, typer.Argument(help="The consumer.")],
    database_url: DatabaseUrl = None,
    service: ServiceOption = None,
    bus_url: BusUrl = None,
) -> None:
    """The consumer's dead letters, one JSON object a line (they stay on the bus)."""

    async def work(store: EventStoreBackend, settings: EskitSettings) -> None:
        consumer, bus = _consumer_and_bus(settings, store, name)
        # a group of its own that never acknowledges: listing takes nothing away
        group = f"{consumer.name}-inspect"
        try:
            async with bus.consumer(group, [dead_letter_type(consumer.name)]) as member:
                while batch := await member.fetch(100, 2.0):
                    for d in batch:
                        line = {"id": d.message_id, "key": d.key, "headers": dict(d.headers)}
                        console.print_json(
                            orjson.dumps({**line, "body": d.body.decode(errors="replace")}).decode()
                        )
        finally:
            await bus.close()

    run_with_store(database_url, work, service=service, bus_url=bus_url)


@dead_letters_app.command("replay")
def dead_letters_replay(
    name: Annotated[str, typer.Argument(help="The consumer.")],
    database_url: DatabaseUrl = None,
    service: ServiceOption = None,
    bus_url: BusUrl = None,
) -> None:
    """Apply the consumer's dead letters again, once each (after a fix)."""

    async def work(store: EventStoreBackend, settings: EskitSettings) -> None:
        consumer, bus = _consumer_and_bus(settings, store, name)
        db = require_transactions(store, "consumers (their inbox)")
        try:
            applied = await ConsumerRunner(db, bus, consumer).replay_dead_letters()
        finally:
            await bus.close()
        console.print(f"{applied} dead letter(s) applied")

    run_with_store(database_url, work, service=service, bus_url=bus_url)
