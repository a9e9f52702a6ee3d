"""The HTTP load generator of the service load, a process of its own.

``python -m harness.load_generator open URL COUNT OUT`` opens ``COUNT`` accounts
(``POST /api/v1/accounts``, ``OPEN_CONCURRENCY`` at a time) and writes their ids to
``OUT``. ``python -m harness.load_generator drive URL IDS IN_FLIGHT WARMUP SECONDS TAG
PIDS OUT`` keeps ``IN_FLIGHT`` deposits in flight (``POST /api/v1/accounts/{id}/deposit``,
a random account of the file ``IDS``, a unique ``paymentId``) over ``lean_http``
connections, one per request in flight: ``WARMUP`` seconds, then a measured window of
``SECONDS``. It writes to ``OUT`` the window's length, the latency of every deposit
answered 200 within it, the errors (any other answer, in the warm-up too) and the CPU the
window saw: of the processes ``PIDS`` (comma-separated) and their children, its own, and
the machine's. :func:`generate` runs it and reads the answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from harness.lean_http import HttpAnswerError, connect
from harness.python_processes import module_command, module_env

__all__ = ["OPEN_CONCURRENCY", "Window", "drive", "generate", "main", "open_accounts"]

OPEN_CONCURRENCY = 16


def _opening(index: int) -> bytes:
    return json.dumps(
        {
            "email": f"holder{index}@example.com",
            "address": f"{index} Main Street, Springfield",
            "firstName": "Ada",
            "lastName": f"Holder{index}",
            "balance": 0,
            "currency": "USD",
        }
    ).encode()


async def open_accounts(base: str, count: int) -> list[str]:
    """Open ``count`` accounts, ``OPEN_CONCURRENCY`` at a time; their ids."""
    ids: list[str] = [""] * count
    indexes = iter(range(count))

    async def worker() -> None:
        connection = await connect(base)
        try:
            for index in indexes:
                status, body = await connection.request("POST", "/api/v1/accounts", _opening(index))
                if status != 201:
                    raise RuntimeError(f"opening an account: {status} {body[:300]!r}")
                ids[index] = json.loads(body)["id"]
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(OPEN_CONCURRENCY)))
    return ids


def _stat(pid: int | str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _cpu_seconds(pids: list[int]) -> float | None:
    """User + system CPU seconds of processes ``pids`` and their children (Linux).

    ``eskit serve --workers N`` runs its servers and projections in child processes;
    ``eskit serve`` with ``eskit worker`` is two processes.
    """
    ticks = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is None:
            return None
        ticks += int(fields[11]) + int(fields[12])
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (child := _stat(entry.name)) and int(child[1]) in pids:
            ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _machine_jiffies() -> tuple[int, int] | None:
    """(busy, total) CPU time of the whole machine so far, in clock ticks (Linux)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


@dataclass
class Window:
    """The measured part of a drive: its bounds, its answers and the CPU it saw."""

    start: float
    end: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    cpu: dict[str, float | None] = field(default_factory=dict)

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(text[:300])


async def _watch_cpu(window: Window, server_pids: list[int]) -> None:
    """Read the CPU counters at the window's start and end."""
    await asyncio.sleep(max(0.0, window.start - time.perf_counter()))
    server0, own0, machine0 = _cpu_seconds(server_pids), time.process_time(), _machine_jiffies()
    await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
    server1, own1, machine1 = _cpu_seconds(server_pids), time.process_time(), _machine_jiffies()
    seconds = window.end - window.start
    ncpu = os.cpu_count() or 1
    window.cpu["generator"] = (own1 - own0) / seconds
    if server0 is not None and server1 is not None:
        window.cpu["server"] = (server1 - server0) / seconds
    if machine0 and machine1 and machine1[1] > machine0[1]:
        busy = (machine1[0] - machine0[0]) / (machine1[1] - machine0[1])
        window.cpu["machine"] = busy * ncpu


async def _deposit_worker(base: str, ids: list[str], window: Window, name: str) -> None:
    rng = random.Random(name)
    connection = await connect(base)
    count = 0
    try:
        while True:
            sent = time.perf_counter()
            if sent >= window.end:
                return
            count += 1
            body = orjson.dumps({"amount": 100 + count % 900, "paymentId": f"{name}-{count}"})
            path = f"/api/v1/accounts/{rng.choice(ids)}/deposit"
            try:
                status, answer = await connection.request("POST", path, body)
            except (OSError, HttpAnswerError) as exc:  # a broken connection is an error too
                status, answer = 0, repr(exc).encode()
                connection.close()
                connection = await connect(base)
            done = time.perf_counter()
            if status != 200:
                window.error(f"{status} {answer[:200]!r}")
            elif window.start <= done <= window.end:
                window.latencies_ms.append((done - sent) * 1000)
    finally:
        connection.close()


async def drive(
    base: str,
    ids: list[str],
    in_flight: int,
    warmup_s: float,
    seconds: float,
    tag: str,
    pids: list[int],
) -> Window:
    """Keep ``in_flight`` deposits going for ``warmup_s`` + ``seconds``; the measured part."""
    start = time.perf_counter() + warmup_s
    window = Window(start, start + seconds)
    workers = [_deposit_worker(base, ids, window, f"{tag}-{i}") for i in range(in_flight)]
    await asyncio.gather(_watch_cpu(window, pids), *workers)
    return window


def _event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is in the bench extra
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def main(argv: list[str]) -> None:
    """``open URL COUNT OUT`` or ``drive URL IDS IN_FLIGHT WARMUP SECONDS TAG PIDS OUT``:
    the load generator's side, writing its answer as JSON to ``OUT``."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    command, base, *rest = argv
    with asyncio.Runner(loop_factory=_event_loop) as runner:
        if command == "open":
            count, out = int(rest[0]), Path(rest[1])
            result: Any = runner.run(open_accounts(base, count))
        else:
            ids = json.loads(Path(rest[0]).read_text())
            in_flight, warmup, seconds = int(rest[1]), float(rest[2]), float(rest[3])
            pids = [int(pid) for pid in rest[5].split(",")]
            window = runner.run(drive(base, ids, in_flight, warmup, seconds, rest[4], pids))
            out = Path(rest[6])
            result = {
                "seconds": window.end - window.start,
                "latencies_ms": window.latencies_ms,
                "errors": window.errors,
                "error_samples": window.error_samples,
                "cpu": window.cpu,
            }
    out.write_text(json.dumps(result))


def generate(args: list[str], out: Path, timeout_s: float) -> Any:
    """Run the load generator in a process of its own with ``args``; its answer."""
    command = module_command("harness.load_generator", *args, str(out))
    done = subprocess.run(
        command, capture_output=True, timeout=timeout_s, check=False, env=module_env()
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"the load generator exited with {done.returncode}: "
            f"{done.stderr.decode(errors='replace')[-2000:]}"
        )
    return json.loads(out.read_text())


if __name__ == "__main__":
    main(sys.argv[1:])
