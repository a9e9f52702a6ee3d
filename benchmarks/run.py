"""Benchmarks of eskit against raw SQL (the limit) and the eventsourcing library (the peer).

    python benchmarks/run.py                 # everything, 5 samples per cell
    python benchmarks/run.py --quick         # everything, 3 samples, < 5 minutes + the service load
    python benchmarks/run.py --only load --backend sqlite
    python benchmarks/run.py --only catchup --only latency --only rebuild   # the read side
    python benchmarks/run.py --only service --backend postgres   # the HTTP service under load

The workloads are in ``workloads/``, what eskit is compared with in ``contenders/``, the
settings, timing, report and servers they share in ``harness/`` (see README.md).

Starts its own embedded PostgreSQL (fsync on) on a Unix socket and writes SQLite files
to a temporary folder; both are removed on exit, also on Ctrl-C or SIGTERM. Every cell
is the median of several samples, contenders taking turns within each round. The last
line printed is the headline.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import postgres_server, report
from harness.progress import fail, note
from harness.results import Backend, Row
from harness.settings import Settings
from harness.timing import STOP, StopRequestedError
from workloads import append, catchup, latency, load, read_all, rebuild, service_load

Workload = Callable[[Settings, Backend, "postgres_server.Cluster | None", Path, list[Row]], None]

WORKLOADS: dict[str, Workload] = {
    "append": lambda s, b, c, t, o: append.run(s, b, c, t, o, batch=False),
    "batch": lambda s, b, c, t, o: append.run(s, b, c, t, o, batch=True),
    "load": load.run,
    "readall": read_all.run,
    "catchup": catchup.run,
    "latency": latency.run,
    "rebuild": rebuild.run,
    "service": service_load.run,
}
BACKENDS: tuple[Backend, ...] = ("postgres", "sqlite")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer samples; under 5 minutes")
    parser.add_argument(
        "--only",
        action="append",
        choices=list(WORKLOADS),
        help="run only this workload (repeatable)",
    )
    parser.add_argument("--backend", action="append", choices=list(BACKENDS), help="repeatable")
    return parser.parse_args(argv)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _ignore_signals() -> None:
    """While cleaning up after an interruption, a second Ctrl-C must not skip the cleanup."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    settings = Settings.for_mode(args.quick)
    workloads = [w for w in WORKLOADS if not args.only or w in args.only]
    backends = [b for b in BACKENDS if not args.backend or b in args.backend]
    signal.signal(signal.SIGTERM, _terminate)
    started = time.perf_counter()
    rows: list[Row] = []
    interrupted = False
    server = "not used"
    try:
        with ExitStack() as stack:
            tmp = Path(tempfile.mkdtemp(prefix="eskit-bench-"))
            stack.callback(shutil.rmtree, tmp, ignore_errors=True)
            cluster: postgres_server.Cluster | None = None
            if "postgres" in backends:
                note("starting embedded PostgreSQL")
                cluster = stack.enter_context(postgres_server.start())
                pg = cluster.settings()
                server = f"PostgreSQL {pg['server_version']} (fsync={pg['fsync']})"
            for workload in workloads:
                for backend in backends:
                    note(f"[bold]{workload}[/bold] on {backend}")
                    try:
                        server_or_none = cluster if backend == "postgres" else None
                        WORKLOADS[workload](settings, backend, server_or_none, tmp, rows)
                    except BaseException:
                        STOP.set()  # worker threads stop before their connections close
                        _ignore_signals()
                        raise
    except (KeyboardInterrupt, StopRequestedError):
        interrupted = True
        fail("interrupted: server stopped and temporary files removed; partial results below")
    elapsed = time.perf_counter() - started
    mode = "quick" if settings.quick else "full"
    samples = f"median of {settings.samples} samples per cell"
    if "rebuild" in workloads:
        samples += f" ({settings.rebuild_samples} for rebuilds)"
    if "service" in workloads:
        samples += f" ({settings.service_samples} for the service load)"
    report.print_report(
        rows,
        title=(
            f"eskit benchmarks, {mode}: {samples} | "
            f"{server}, SQLite {sqlite3.sqlite_version} WAL synchronous=FULL | "
            f"Python {platform.python_version()}, {os.cpu_count()} CPUs"
        ),
    )
    print(f"wall time: {elapsed:.0f} s")
    print(report.headline(rows), flush=True)
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
