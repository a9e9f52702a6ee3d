"""``eskit serve --workers N``: several server processes on one port.

One Python process serves HTTP on one core at most. Here a supervisor binds the HTTP
port once per server process, each socket with SO_REUSEPORT, and starts N server
processes, each accepting on its own socket, plus one process for the projections, so
that only one runner moves each projection's checkpoint. The kernel spreads new
connections evenly over the sockets (one shared socket would leave long-lived keep-alive
connections with whichever process woke first). Every server process binds the gRPC port
too (gRPC sets SO_REUSEPORT, so those connections are spread as well). The supervisor
keeps the sockets: connections that arrive while a server process restarts wait in its
socket's backlog.

Their metrics are kept in a directory the supervisor makes (prometheus-client's
multiprocess mode), so ``/metrics`` on any server process sums the counters of all of
them, the projections' process included.

The processes share nothing but the store: commands to one aggregate from two processes
meet at its optimistic version check, and reads wait for the projections' checkpoints
(``minVersion``, ``minPosition``) the same way whichever process serves them.

The supervisor starts the projections first (their tables exist before any query), then
the servers, and reports ready when all are. A process that dies after running a while
(SIGKILL, a crash) is started again; one that dies while starting, or within a few
seconds of it, stops everything with an error rather than restarting in a loop.
SIGTERM or SIGINT stops them all cleanly: each finishes its requests or batch in hand.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import secrets
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

from pydantic import SecretStr

from eskit.errors import ConfigurationError, EskitError
from eskit.observability.logs import configure_logging
from eskit.observability.metrics import forget_process, multiprocess_directory
from eskit.serving.event_loop import run_on_uvloop
from eskit.serving.ports import check_ports
from eskit.serving.projections_process import run_projections
from eskit.serving.server import serve
from eskit.serving.service import load_service
from eskit.settings import EskitSettings
from eskit.store import open_store

__all__ = ["ServerProcesses", "serve_workers"]

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 60.0
_CRASH_LOOP_S = 5.0
"""A process that dies sooner than this after starting is not started again."""
_STOP_GRACE_S = 15.0
"""How long each process gets to finish its work after SIGTERM before it is killed."""


@dataclass
class _Child:
    name: str
    target: Callable[..., None]
    args: tuple[Any, ...]
    process: SpawnProcess | None = None
    ready: ProcessEvent | None = None
    started_at: float = 0.0
    restarts: int = 0

    def start(self, context: SpawnContext) -> None:
        self.ready = context.Event()
        self.process = context.Process(
            target=self.target, args=(*self.args, self.ready), name=self.name, daemon=False
        )
        self.process.start()
        self.started_at = time.monotonic()


@dataclass
class ServerProcesses:
    """What :func:`serve_workers` started: the HTTP port and each process's id."""

    port: int
    pids: dict[str, int] = field(default_factory=dict)


def serve_workers(
    settings: EskitSettings,
    *,
    migrate: bool = False,
    on_ready: Callable[[ServerProcesses], None] | None = None,
) -> int:
    """Run ``settings.workers`` server processes (and one for the projections) until SIGTERM.

    Returns the exit status: 0 after a clean stop, 1 if a process failed to start or kept
    dying. Raises PortInUseError, before anything starts, if another socket holds the
    HTTP or the gRPC port; EskitError if the store cannot be opened (or migrated) first,
    and ConfigurationError if the HTTP port cannot be bound.
    """
    check_ports(settings)
    if migrate:
        run_on_uvloop(_migrate(settings))
    try:
        sockets = _listen(settings.host, settings.port, settings.workers)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot listen on {settings.host}:{settings.port}: {exc}"
        ) from exc
    # one console secret for every server process: a session made by one is good on all
    secret = settings.admin_secret or SecretStr(secrets.token_urlsafe(32))
    port = sockets[0].getsockname()[1]
    settings = settings.model_copy(update={"port": port, "admin_secret": secret})
    children = _children(settings, sockets)
    stopping = _StopFlag()
    context = multiprocessing.get_context("spawn")
    try:
        with multiprocess_directory():
            return _run(children, context, stopping, settings, on_ready)
    finally:
        for sock in sockets:
            sock.close()
        stopping.restore()


def _run(
    children: list[_Child],
    context: SpawnContext,
    stopping: _StopFlag,
    settings: EskitSettings,
    on_ready: Callable[[ServerProcesses], None] | None,
) -> int:
    try:
        if not _start_all(children, context, stopping):
            return 1 if not stopping else 0
        if on_ready is not None:
            pids = {c.name: c.process.pid for c in children if c.process and c.process.pid}
            on_ready(ServerProcesses(settings.port, pids))
        return _supervise(children, context, stopping)
    finally:
        _stop_all(children)


async def _migrate(settings: EskitSettings) -> None:
    async with open_store(settings.database_url, migrate=True, **settings.store_options()):
        pass


def _listen(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` listening sockets on one port (SO_REUSEPORT), or one where it is missing."""
    reuse_port = getattr(socket, "SO_REUSEPORT", None)
    sockets: list[socket.socket] = []
    try:
        for _ in range(count if reuse_port is not None else 1):
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port is not None:
                sock.setsockopt(socket.SOL_SOCKET, reuse_port, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]  # port 0: the others join the port the first got
            sock.listen(2048)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _children(settings: EskitSettings, sockets: list[socket.socket]) -> list[_Child]:
    children = []
    if settings.run_projections:
        # the service's own projections, as one process of `eskit serve` runs them
        projecting = settings.model_copy(update={"projections": ""})
        children.append(_Child("projections", _projections_main, (projecting,)))
    servers = settings.model_copy(update={"run_projections": False})
    for index in range(settings.workers):
        sock = sockets[index % len(sockets)]
        children.append(_Child(f"server-{index + 1}", _server_main, (servers, sock)))
    return children


class _StopFlag:
    """Set by SIGTERM or SIGINT in the supervisor; the previous handlers come back after."""

    def __init__(self) -> None:
        self.set = False
        self._previous = {
            sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)
        }

    def _handle(self, signum: int, frame: object) -> None:
        self.set = True

    def __bool__(self) -> bool:
        return self.set

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _start_all(children: list[_Child], context: SpawnContext, stopping: _StopFlag) -> bool:
    """Start each child and wait until it is ready; False if one died or a signal came."""
    for child in children:
        child.start(context)
        if not _wait_ready(child, stopping):
            return False
    return True


def _wait_ready(child: _Child, stopping: _StopFlag) -> bool:
    assert child.process is not None
    assert child.ready is not None
    deadline = time.monotonic() + _START_TIMEOUT_S
    while not child.ready.wait(0.1):
        if stopping:
            return False
        if not child.process.is_alive():
            log.error("%s exited while starting (status %s)", child.name, child.process.exitcode)
            return False
        if time.monotonic() > deadline:
            log.error("%s not ready after %.0f s", child.name, _START_TIMEOUT_S)
            return False
    return True


def _supervise(children: list[_Child], context: SpawnContext, stopping: _StopFlag) -> int:
    """Wait for a signal, starting again any child that dies; the exit status."""
    while not stopping:
        sentinels = [c.process.sentinel for c in children if c.process is not None]
        wait(sentinels, timeout=0.5)
        for child in children:
            assert child.process is not None
            if stopping or child.process.is_alive():
                continue
            lived = time.monotonic() - child.started_at
            log.warning(
                "%s (pid %s) exited with status %s after %.1f s",
                child.name,
                child.process.pid,
                child.process.exitcode,
                lived,
            )
            if lived < _CRASH_LOOP_S:
                log.error("%s keeps dying: stopping", child.name)
                return 1
            if child.process.pid is not None:
                forget_process(child.process.pid)  # its live gauges died with it
            child.restarts += 1
            child.start(context)
            if not _wait_ready(child, stopping):
                return 0 if stopping else 1
    return 0


def _stop_all(children: list[_Child]) -> None:
    """SIGTERM to every child still running (servers first), then wait; kill stragglers."""
    running = [c.process for c in reversed(children) if c.process and c.process.is_alive()]
    for process in running:
        if process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_GRACE_S
    for process in running:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            log.warning("%s did not stop in time: killing it", process.name)
            process.kill()
            process.join()


# -- in the child processes ---------------------------------------------------------------


def _server_main(settings: EskitSettings, sock: socket.socket, ready: ProcessEvent) -> None:
    """One server process: HTTP on the shared socket, gRPC on the shared port."""
    configure_logging(settings)  # a spawned process starts with none
    try:
        run_on_uvloop(
            serve(
                load_service(settings.service),
                settings,
                sockets=[sock],
                on_ready=lambda runtime: ready.set(),
            )
        )
    except EskitError as exc:
        log.error("cannot serve (%s): %s", exc.code, exc)
        raise SystemExit(1) from exc


def _projections_main(settings: EskitSettings, ready: ProcessEvent) -> None:
    """The projections' process."""
    configure_logging(settings)  # a spawned process starts with none
    try:
        run_on_uvloop(run_projections(settings, on_ready=lambda names: ready.set()))
    except EskitError as exc:
        log.error("cannot run the projections (%s): %s", exc.code, exc)
        raise SystemExit(1) from exc
