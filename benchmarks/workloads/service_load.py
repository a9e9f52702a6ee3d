"""Workload 8: the bank-account service under HTTP load: deposits over 1,000 accounts.

The server under test is a process of its own on a free loopback port: ``eskit serve``
(``ESKIT_GRPC_PORT=0``, ``ESKIT_LOG_LEVEL=WARNING``) on a fresh PostgreSQL database
(``--migrate``) or a fresh SQLite file (``synchronous=FULL``, the default; the full run
adds ``NORMAL``), with the service's projections in the same process, as by default. On
PostgreSQL two more eskit contenders run: ``eskit serve --no-projections`` with the
projections in an ``eskit worker`` process beside it, and ``eskit serve --workers 2``.
Side by side, on the same HTTP stack (FastAPI on uvicorn and uvloop, in a process of
their own) and the same requests (``contenders.service_peers``): raw psycopg /
sqlite3, the limit, and the ``eventsourcing`` library, the peer. Peers build no read
model; eskit's projections run while it serves, and must catch up (untimed) after each
sample before the next one starts.

Each server first gets 1,000 accounts (``POST /api/v1/accounts``, untimed). Then the load
generator, a process of its own (``harness.load_generator`` over ``harness.lean_http``, a
minimal keep-alive HTTP/1.1 client on uvloop, one connection per request in flight, so
that it takes little of the cores it shares with the server), keeps 16, 32 or 64 deposits in flight (``POST
/api/v1/accounts/{id}/deposit``, a random account, a unique ``paymentId``): a warm-up
(2 s; quick: 1 s), then a measured window (10 s; quick: 4 s). Throughput counts the
deposits answered 200 within the window; p50 / p99 / max are over every one of them, from
sending the request to reading the whole answer. Any other answer, in the warm-up too, is
an error: the run stops and shows them. The generator also reads, over the window, the
CPU time of the contender's processes (with their children: ``--workers 2`` serves from
two child processes and projects in a third; the ``eskit worker`` beside a server is
counted with it) and its own (100 % = one core) and how busy the machine was (200 % =
both cores of a 2-core machine).

Contenders take turns within each round (3 rounds; quick: 1). Streams grow as the run goes
(each deposit is an event), so later rounds of ``eventsourcing``, which replays the stream
on every command, are somewhat slower; eskit's command handler keeps the accounts it
saved last, so it decides a deposit without reading the stream.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from harness.load_generator import generate
from harness.postgres_server import Cluster
from harness.progress import note
from harness.python_processes import module_command, module_env
from harness.results import Backend, Role, Row, percentile
from harness.settings import Settings
from harness.timing import check_stop, rotated

__all__ = ["run"]

PEERS = "contenders.service_peers"
_READY_TIMEOUT_S = 60.0
_SETTLE_TIMEOUT_S = 120.0
ES_LABEL = "eventsourcing " + ".".join(version("eventsourcing").split(".")[:2])


# -- the servers ---------------------------------------------------------------------------


@dataclass
class Server:
    """One contender's server process, its accounts and its results."""

    label: str
    role: Role
    case: str
    """Appended to the case name (SQLite: the ``synchronous`` setting)."""
    command: list[str]
    env: dict[str, str]
    folder: Path
    eskit: bool = False
    companion: list[str] | None = None
    """A second process beside the server (``eskit worker``), started once it is ready."""
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    companion_proc: subprocess.Popen[bytes] | None = None
    ids_file: Path | None = None
    samples: dict[int, list[dict[str, float]]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    @property
    def pids(self) -> list[int]:
        """The processes whose CPU the contender spends."""
        return [p.pid for p in (self.proc, self.companion_proc) if p is not None]


def free_port() -> int:
    """A loopback TCP port free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _log_tail(server: Server) -> str:
    return server.log.read_text(errors="replace")[-2000:] if server.log.exists() else ""


def _check_alive(server: Server) -> None:
    for proc in (server.proc, server.companion_proc):
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{server.label} exited with {proc.returncode}: {_log_tail(server)}")


def _get(url: str, timeout_s: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        return 0, repr(exc).encode()


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while _get(server.base + "/health/ready", 2.0)[0] != 200:
        _check_alive(server)
        check_stop()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{server.label} not ready after {_READY_TIMEOUT_S:.0f} s")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def serving(server: Server) -> Iterator[Server]:
    """Start ``server`` on a free port and wait until it is ready; stop it on exit."""
    server.folder.mkdir(parents=True, exist_ok=True)
    server.port = free_port()
    env = {**server.env, "ESKIT_PORT": str(server.port)}
    with ExitStack() as stack, server.log.open("wb") as log:
        server.proc = _start([*server.command, "--port", str(server.port)], server, env, log)
        stack.callback(_stop, server.proc)
        _wait_ready(server)  # the server migrates the schema: the companion comes after
        if server.companion is not None:
            server.companion_proc = _start(server.companion, server, env, log)
            stack.callback(_stop, server.companion_proc)
        yield server


def _start(
    command: list[str], server: Server, env: dict[str, str], log: Any
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, cwd=server.folder, env=env, stdout=log, stderr=subprocess.STDOUT
    )


def _eskit_command(verb: str) -> list[str]:
    script = Path(sys.executable).with_name("eskit")
    if script.exists():
        return [str(script), verb]
    return [
        sys.executable,
        "-c",
        "import sys; from eskit.cli.main import main; sys.exit(main())",
        verb,
    ]


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ESKIT_")}


def eskit_server(
    url: str, folder: Path, *, synchronous: str = "", workers: int = 1, split: bool = False
) -> Server:
    """``eskit serve`` of the bank-account service over ``url``.

    ``split``: the projections run in an ``eskit worker`` process beside the server
    (``ESKIT_RUN_PROJECTIONS=false`` for the server).
    """
    env = {
        **_base_env(),
        "ESKIT_DATABASE_URL": url,
        "ESKIT_SERVICE": "bank_accounts.service:service",
        "ESKIT_GRPC_PORT": "0",
        "ESKIT_LOG_LEVEL": "WARNING",
        "ESKIT_WORKERS": str(workers),
    }
    command = _eskit_command("serve")
    if synchronous:
        env["ESKIT_SQLITE_SYNCHRONOUS"] = synchronous
    else:
        command.append("--migrate")
    case = f", synchronous={synchronous}" if synchronous else ""
    label = "eskit serve" + (f" --workers {workers}" if workers > 1 else "")
    companion = None
    if split:
        command.append("--no-projections")
        companion = _eskit_command("worker")
        label += " + eskit worker"
    return Server(label, "eskit", case, command, env, folder, eskit=True, companion=companion)


def peer_server(kind: str, label: str, role: Role, url: str, folder: Path, case: str) -> Server:
    """A contender of ``service_peers`` over ``url``."""
    command = module_command(PEERS, kind, "--database-url", url)
    return Server(label, role, case, command, module_env(_base_env()), folder)


def _servers(
    settings: Settings, backend: Backend, cluster: Cluster | None, tmp: Path, stack: ExitStack
) -> list[Server]:
    if backend == "postgres":
        assert cluster is not None
        urls = [stack.enter_context(cluster.empty_database()) for _ in range(5)]
        return [
            eskit_server(urls[0], tmp / "eskit"),
            eskit_server(urls[4], tmp / "eskit-split", split=True),
            eskit_server(urls[3], tmp / "eskit-workers", workers=2),
            peer_server("raw", "raw psycopg", "raw", urls[1], tmp / "raw", ""),
            peer_server("eventsourcing", ES_LABEL, "peer", urls[2], tmp / "es", ""),
        ]
    full = ", synchronous=FULL"
    servers = [
        eskit_server(f"sqlite:///{tmp / 'eskit' / 'eskit.db'}", tmp / "eskit", synchronous="FULL"),
        peer_server(
            "raw", "raw sqlite3", "raw", f"sqlite:///{tmp / 'raw' / 'raw.db'}", tmp / "raw", full
        ),
        peer_server(
            "eventsourcing", ES_LABEL, "peer", f"sqlite:///{tmp / 'es' / 'es.db'}", tmp / "es", full
        ),
    ]
    if settings.service_sqlite_normal:
        path = tmp / "eskit-normal" / "eskit.db"
        servers.append(eskit_server(f"sqlite:///{path}", path.parent, synchronous="NORMAL"))
    return servers


# -- the workload --------------------------------------------------------------------------


def _settle(server: Server, first_id: str) -> float:
    """Wait until eskit's projections have caught up with the log; the seconds it took."""
    started = time.monotonic()
    status, body = _get(server.base + "/health/ready", 5.0)
    if status != 200:
        raise RuntimeError(f"{server.label} not ready: {status} {body[:300]!r}")
    position = json.loads(body)["position"]
    queries = (f"/api/v1/accounts/{first_id}", "/api/v1/accounts?size=1&search=")
    for query in queries:
        sep = "&" if "?" in query else "?"
        while _get(f"{server.base}{query}{sep}minPosition={position}", 10.0)[0] != 200:
            _check_alive(server)
            check_stop()
            if time.monotonic() - started > _SETTLE_TIMEOUT_S:
                raise TimeoutError(f"projections not at {position} after {_SETTLE_TIMEOUT_S} s")
    return time.monotonic() - started


def _open(server: Server, count: int) -> None:
    assert server.ids_file is not None
    ids = generate(["open", server.base, str(count)], server.ids_file, 300.0)
    if server.eskit:
        _settle(server, ids[0])


def _sample(server: Server, settings: Settings, in_flight: int, tag: str) -> dict[str, float]:
    assert server.proc is not None
    assert server.ids_file is not None
    seconds, warmup = settings.service_seconds, settings.service_warmup_s
    args = ["drive", server.base, str(server.ids_file), str(in_flight), str(warmup)]
    args += [str(seconds), tag, ",".join(str(pid) for pid in server.pids)]
    result = generate(args, server.folder / f"{tag}.json", warmup + seconds + 120)
    _check_alive(server)
    if result["errors"]:
        raise RuntimeError(
            f"{server.label}, {in_flight} in flight: {result['errors']} requests failed, "
            f"e.g. {result['error_samples']}"
        )
    ms: list[float] = result["latencies_ms"]
    if not ms:
        raise RuntimeError(f"{server.label}, {in_flight} in flight: nothing answered in time")
    cpu = result["cpu"]
    throughput = len(ms) / result["seconds"]
    server_cpu = cpu.get("server", float("nan"))
    return {
        "throughput": throughput,
        "p50": percentile(ms, 0.5),
        "p99": percentile(ms, 0.99),
        "max": max(ms),
        "errors": float(result["errors"]),
        "server_cpu": server_cpu,
        "server_ms": server_cpu / throughput * 1000,
        "gen_cpu": cpu.get("generator", float("nan")),
        "machine_cpu": cpu.get("machine", float("nan")),
    }


def _note(
    backend: Backend, server: Server, in_flight: int, s: dict[str, float], extra: str
) -> None:
    note(
        f"{backend} service {server.label}{server.case}, {in_flight} in flight: "
        f"{s['throughput']:,.0f} cmd/s, p50 {s['p50']:.1f} ms, p99 {s['p99']:.1f} ms, "
        f"max {s['max']:.1f} ms; CPU server {s['server_cpu']:.0%} "
        f"({s['server_ms']:.2f} ms/command), generator "
        f"{s['gen_cpu']:.0%}, machine {s['machine_cpu']:.0%}{extra}"
    )


def _round(backend: Backend, servers: list[Server], settings: Settings, turn: int) -> None:
    for in_flight in settings.service_in_flight:
        for index, server in enumerate(rotated(servers, turn)):
            check_stop()
            tag = f"r{turn}-n{in_flight}-{index}"
            sample = _sample(server, settings, in_flight, tag)
            extra = ""
            if server.eskit:
                assert server.ids_file is not None
                first_id = json.loads(server.ids_file.read_text())[0]
                extra = f"; projections caught up {_settle(server, first_id):.1f} s later"
            server.samples.setdefault(in_flight, []).append(sample)
            _note(backend, server, in_flight, sample, extra)


def _rows(backend: Backend, server: Server, out: list[Row]) -> None:
    for in_flight, samples in server.samples.items():
        keys = ("p50", "p99", "max", "errors", "server_cpu", "server_ms", "gen_cpu", "machine_cpu")
        out.append(
            Row(
                "service",
                backend,
                f"{in_flight} in flight{server.case}",
                server.label,
                server.role,
                "cmd/s",
                [s["throughput"] for s in samples],
                extra={key: [s[key] for s in samples] for key in keys},
            )
        )


def run(
    settings: Settings, backend: Backend, cluster: Cluster | None, tmp: Path, out: list[Row]
) -> None:
    """Serve each contender, open its accounts, then measure rounds of deposits."""
    folder = tmp / f"service-{backend}"
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        servers = _servers(settings, backend, cluster, folder, stack)
        started = time.perf_counter()
        for server in servers:
            stack.enter_context(serving(server))
            server.ids_file = server.folder / "ids.json"
            _open(server, settings.service_accounts)
        note(
            f"{backend} service: {len(servers)} servers up, {settings.service_accounts:,} "
            f"accounts each ({time.perf_counter() - started:.0f} s)"
        )
        for turn in range(settings.service_samples):
            _round(backend, servers, settings, turn)
    for server in servers:
        _rows(backend, server, out)
