"""What observability costs: HTTP deposits and projection catch-up with tracing and metrics
on and off, side by side in one run.

    python benchmarks/instrumentation.py            # 7 rounds, SQLite and PostgreSQL
    python benchmarks/instrumentation.py --quick    # 3 rounds

Five configurations take turns within each round (a machine whose load drifts slows all
alike): **off** (no tracer provider, the metrics' calls turned off), **metrics** (the
Prometheus families counting, as in production), **tracing** (an OpenTelemetry SDK
provider sampling every trace, spans batched to an OTLP/HTTP receiver in another process,
which drops them: the export's serialisation and sending are paid here), **tracing 10%**
(the same, one trace in ten sampled, parent-based) and **both** (metrics and tracing at
100 %).

* **HTTP deposits**: the bank-account service in this process (``ServiceRuntime``, its
  projections running), driven through its ASGI app by 8 concurrent clients (httpx, no
  socket: the server's own work, not the kernel's), ``CHUNK`` deposits per sample over 50
  accounts; seconds per deposit.
* **Projection catch-up**: the service's three projections from position 0 over 20,000
  events (200 accounts of 100: ``workloads.account_events``), each account's events written
  under a trace context of its own as a traced request would leave them; events per second.

The target: at most 5 % slower with metrics on, at most 15 % with tracing sampled at 100 %.
The raw-SQL limit and the peer library for these two workloads, without instrumentation,
are in docs/benchmarks.md (service load, catch-up).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.util._once import Once
from rich.console import Console
from rich.table import Table

sys.path[:0] = [str(Path(__file__).parent)]  # harness, workloads

from bank_accounts.projections import projections  # noqa: E402
from bank_accounts.service import service  # noqa: E402
from eskit.observability import metrics  # noqa: E402
from eskit.projections import ProjectionRunner  # noqa: E402
from eskit.serving import ServiceRuntime  # noqa: E402
from eskit.settings import EskitSettings  # noqa: E402
from eskit.store import EventStoreBackend, open_store, require_transactions  # noqa: E402
from harness import postgres_server  # noqa: E402
from workloads.account_events import STREAM_TYPE, account_events, stream_id  # noqa: E402

CONFIGS = ("off", "metrics", "tracing", "tracing 10%", "both")
CHUNK = 400
CLIENTS = 8
ACCOUNTS = 50
CATCHUP_ACCOUNTS = 200
EVENTS_PER_ACCOUNT = 100

RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Drop(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Drop)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


@contextlib.contextmanager
def otlp_receiver() -> Iterator[str]:
    """An OTLP/HTTP endpoint in a process of its own that accepts and drops every export."""
    proc = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield f"http://127.0.0.1:{proc.stdout.readline().strip()}/v1/traces"
    finally:
        proc.kill()
        proc.wait()


class Instrumentation:
    """Turns tracing and metrics on and off between samples."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.provider: TracerProvider | None = None

    @contextlib.contextmanager
    def configured(self, config: str) -> Iterator[None]:
        metrics.set_enabled(config in ("metrics", "both"))
        if config in ("tracing", "both"):
            self._trace(1.0)
        elif config == "tracing 10%":
            self._trace(0.1)
        try:
            yield
        finally:
            if self.provider is not None:
                self.provider.shutdown()  # flushes: the export's cost falls in its sample
                self.provider = None
                _reset_provider()
            metrics.set_enabled(True)

    def _trace(self, ratio: float) -> None:
        # every trace, or a share of them as production usually runs (parent-based)
        self.provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(ratio)))
        exporter = OTLPSpanExporter(endpoint=self.endpoint)
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        _reset_provider()
        trace.set_tracer_provider(self.provider)


def _reset_provider() -> None:
    # OpenTelemetry sets its global provider once per process; the benchmark needs four
    trace._TRACER_PROVIDER_SET_ONCE = Once()  # type: ignore[attr-defined]
    trace._TRACER_PROVIDER = None  # type: ignore[attr-defined]


# -- the workloads -----------------------------------------------------------------------


async def deposits(client: httpx.AsyncClient, ids: list[str], tag: str) -> float:
    """Seconds per deposit over CHUNK deposits, CLIENTS at a time."""
    numbers = iter(range(CHUNK))

    async def worker() -> None:
        for n in numbers:
            body = {"amount": 1, "paymentId": f"{tag}-{n}"}
            answer = await client.post(f"/api/v1/accounts/{ids[n % len(ids)]}/deposit", json=body)
            if answer.status_code != 200:
                raise RuntimeError(f"deposit answered {answer.status_code}: {answer.text}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    return (time.perf_counter() - started) / CHUNK


async def catch_up(store: EventStoreBackend) -> float:
    """Events per second of the three projections from position 0 (their read models and
    checkpoints dropped first, untimed)."""
    running = projections()
    db = require_transactions(store, "the catch-up")
    async with db.transaction() as tx:
        for projection in running:
            for model in projection.read_models:
                for table in model.table_names(model.name):
                    await tx.schema.drop(table)
            await tx.checkpoints.delete(projection.name)
    runner = ProjectionRunner(store, running, listen=False)
    await runner.prepare()
    started = time.perf_counter()
    await runner.catch_up()
    seconds = time.perf_counter() - started
    return sum(runner.worker(p.name).events_handled for p in running) / seconds


async def preload(store: EventStoreBackend) -> None:
    """The catch-up's log: each account's events under a trace context of their own."""
    for index in range(CATCHUP_ACCOUNTS):
        traceparent = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
        await store.append(
            stream_id(index),
            account_events(index, EVENTS_PER_ACCOUNT),
            expected_version=0,
            stream_type=STREAM_TYPE,
            metadata={"traceparent": traceparent},
        )


# -- running ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def service_client(store: EventStoreBackend) -> AsyncIterator[httpx.AsyncClient]:
    settings = EskitSettings(database_url="memory://", grpc_port=0, grpc_query_port=0)
    async with ServiceRuntime(service, store, settings, grpc_address=None) as runtime:
        transport = httpx.ASGITransport(app=runtime.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield client


async def open_accounts(client: httpx.AsyncClient) -> list[str]:
    ids = []
    for n in range(ACCOUNTS):
        body = {
            "email": f"holder{n}@example.com",
            "address": f"{n} Main Street",
            "firstName": "Ada",
            "lastName": f"Holder{n}",
            "balance": 0,
        }
        answer = await client.post("/api/v1/accounts", json=body)
        ids.append(answer.json()["id"])
    return ids


async def measure(
    deposits_url: str, catchup_url: str, rounds: int, instrumentation: Instrumentation
) -> dict[str, dict[str, list[float]]]:
    """Per workload and configuration, the samples of every round."""
    found: dict[str, dict[str, list[float]]] = {
        "deposits": {c: [] for c in CONFIGS},
        "catchup": {c: [] for c in CONFIGS},
    }
    async with open_store(deposits_url, migrate=True) as store:
        # FastAPI decides at the app's making whether requests may be traced at all
        with instrumentation.configured("tracing"):
            client_context = service_client(store)
            client = await client_context.__aenter__()
        try:
            ids = await open_accounts(client)
            for turn in range(rounds + 1):  # the first round warms up, untimed
                for config in _rotated(CONFIGS, turn):
                    with instrumentation.configured(config):
                        seconds = await deposits(client, ids, f"r{turn}-{config}")
                    if turn:
                        found["deposits"][config].append(seconds)
        finally:
            await client_context.__aexit__(None, None, None)
    async with open_store(catchup_url, migrate=True) as store:
        await preload(store)
        for turn in range(rounds + 1):
            for config in _rotated(CONFIGS, turn):
                with instrumentation.configured(config):
                    rate = await catch_up(store)
                if turn:
                    found["catchup"][config].append(rate)
    return found


def _rotated(items: tuple[str, ...], turn: int) -> list[str]:
    shift = turn % len(items)
    return [*items[shift:], *items[:shift]]


def report(backend: str, found: dict[str, dict[str, list[float]]], console: Console) -> None:
    table = Table(title=f"Instrumentation on {backend}: medians, ratio to off")
    table.add_column("workload")
    for config in CONFIGS:
        table.add_column(config, justify="right")
    deposits_off = statistics.median(found["deposits"]["off"])
    table.add_row(
        "HTTP deposit (ms)",
        *(
            _cell(statistics.median(found["deposits"][c]) * 1000, deposits_off * 1000, c, True)
            for c in CONFIGS
        ),
    )
    catchup_off = statistics.median(found["catchup"]["off"])
    table.add_row(
        "catch-up (events/s)",
        *(_cell(statistics.median(found["catchup"][c]), catchup_off, c, False) for c in CONFIGS),
    )
    console.print(table)


def _cell(value: float, off: float, config: str, lower_is_better: bool) -> str:
    slower = (value / off - 1) if lower_is_better else (off / value - 1)
    shown = f"{value:,.3f}" if lower_is_better else f"{value:,.0f}"
    if config == "off":
        return shown
    target = 0.05 if config == "metrics" else 0.15  # the targets: metrics 5 %, tracing 15 %
    verdict = "ok" if slower <= target else "over"
    return f"{shown} ({slower:+.1%} {verdict})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 7")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), action="append")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else 7
    backends = args.backend or ["sqlite", "postgres"]
    console = Console()
    with otlp_receiver() as endpoint, tempfile.TemporaryDirectory() as tmp:
        instrumentation = Instrumentation(endpoint)
        if "sqlite" in backends:
            urls = (f"sqlite:///{tmp}/deposits.db", f"sqlite:///{tmp}/catchup.db")
            found = asyncio.run(measure(*urls, rounds, instrumentation))
            report("SQLite", found, console)
        if "postgres" in backends:
            with (
                postgres_server.start() as cluster,
                cluster.eskit_database() as deposits_url,
                cluster.eskit_database() as catchup_url,
            ):
                found = asyncio.run(measure(deposits_url, catchup_url, rounds, instrumentation))
            report("PostgreSQL", found, console)
    console.print(f"{os.cpu_count()} cores; {rounds} rounds; {CHUNK} deposits per sample")


if __name__ == "__main__":
    main()
