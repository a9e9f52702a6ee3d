"""``python -m kafka_users``: serve the user service on a Kafka cluster.

``ESKIT_KAFKA_URL`` names the cluster (``kafka://host:port[,host:port...]``; falls back to
``ESKIT_BUS_URL``); ``ESKIT_HOST`` and ``ESKIT_PORT`` where HTTP listens (127.0.0.1:8000);
``ESKIT_KAFKA_IDEMPOTENT=false`` for a broker without Kafka's idempotent producer (Tansu).
Start-up restores every user from the topic, with a progress bar.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator

import uvicorn
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from eskit.errors import EskitError
from eskit.messaging.kafka_bus import KafkaBus
from eskit.messaging.kafka_repository import RestoreProgress
from eskit.messaging.urls import open_bus
from eskit.settings import EskitSettings
from kafka_users.service import KafkaUsers


def bootstrap_servers(environ: dict[str, str]) -> str:
    """The cluster the environment names; EskitError if it names none or no Kafka."""
    url = environ.get("ESKIT_KAFKA_URL") or environ.get("ESKIT_BUS_URL", "")
    bus = open_bus(url)
    if not isinstance(bus, KafkaBus):
        raise EskitError(f"ESKIT_KAFKA_URL={url!r}: expected kafka://host:port")
    return bus.bootstrap_servers


class _Server(uvicorn.Server):
    """uvicorn, leaving SIGINT and SIGTERM to :func:`serve`: it must free the writer lease
    before the process ends (uvicorn would raise the signal again once it stopped)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(environ: dict[str, str]) -> None:
    """Restore, then serve HTTP until SIGINT or SIGTERM; then stop and free the lease."""
    settings = EskitSettings()
    with Progress(
        TextColumn("restoring {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def show(step: RestoreProgress) -> None:
            if step.phase not in tasks:
                tasks[step.phase] = progress.add_task(step.phase, total=step.total)
            progress.update(tasks[step.phase], completed=step.read, total=step.total)

        service = KafkaUsers(
            bootstrap_servers(environ),
            idempotent=environ.get("ESKIT_KAFKA_IDEMPOTENT", "true").lower() != "false",
            on_progress=show,
        )
        await service.__aenter__()
    try:
        server = _Server(uvicorn.Config(service.app, host=settings.host, port=settings.port))
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, setattr, server, "should_exit", True)
        await server.serve()
    finally:
        await service.__aexit__(None, None, None)


if __name__ == "__main__":
    try:
        asyncio.run(serve(dict(os.environ)))
    except EskitError as exc:
        print(f"kafka_users: {exc.message}", file=sys.stderr)
        sys.exit(1)
