"""A second ``eskit serve`` on a port in use: one line naming the port, a non-zero exit,
within seconds, before it opens the store, runs a projection or announces anything."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.serving.processes import ESKIT, ROOT, WALLETS_SERVICE, Process, free_port, wait_ready

pytestmark = pytest.mark.e2e


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port another process's socket listens on (plain: no SO_REUSEPORT)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def serve(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str, float]:
    """``eskit serve *args`` until it exits: its status, stdout, stderr and seconds taken."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    full_env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": path, "ESKIT_SERVICE": WALLETS_SERVICE}
    full_env.pop("ESKIT_DATABASE_URL", None)
    started = time.monotonic()
    done = subprocess.run(
        [ESKIT, "serve", *args],
        cwd=cwd,
        env={**full_env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


def assert_refused(result: tuple[int, str, str, float], port: int, listener: str) -> None:
    code, out, err, seconds = result
    assert code != 0
    assert err.count("\n") == 1, err  # one line, no traceback
    assert f"port {port} ({listener}) on 127.0.0.1 is in use" in err
    assert "port_in_use" in err
    assert "serving" not in out
    assert seconds < 10


def test_serve_on_a_held_http_port_stops_before_opening_the_store(
    tmp_path: Path, held_port: int
) -> None:
    result = serve(tmp_path, "--port", str(held_port), "--grpc-port", str(free_port()))
    assert_refused(result, held_port, "HTTP")
    assert not (tmp_path / "eskit.db").exists()


def test_serve_with_workers_on_a_held_http_port_stops_before_anything(
    tmp_path: Path, held_port: int
) -> None:
    result = serve(tmp_path, "--workers", "2", "--port", str(held_port), "--grpc-port", "0")
    assert_refused(result, held_port, "HTTP")
    assert not (tmp_path / "eskit.db").exists()


def test_serve_on_a_held_grpc_port_stops_before_opening_the_store(
    tmp_path: Path, held_port: int
) -> None:
    result = serve(tmp_path, "--port", str(free_port()), "--grpc-port", str(held_port))
    assert_refused(result, held_port, "gRPC")
    assert not (tmp_path / "eskit.db").exists()


def test_a_second_server_on_the_grpc_port_of_a_running_one_stops_and_writes_nothing(
    tmp_path: Path, postgres_url: str, processes: list[Process]
) -> None:
    # gRPC listens with SO_REUSEPORT: a second server could join the first one's port
    grpc_port = free_port()
    first_http = free_port()
    first = Process(
        ["serve", "--no-projections"],
        tmp_path,
        {
            "ESKIT_DATABASE_URL": postgres_url,
            "ESKIT_PORT": str(first_http),
            "ESKIT_GRPC_PORT": str(grpc_port),
        },
    )
    processes.append(first)
    wait_ready(f"http://127.0.0.1:{first_http}", first)

    result = serve(
        tmp_path,
        "--port",
        str(free_port()),
        "--grpc-port",
        str(grpc_port),
        env={"ESKIT_DATABASE_URL": postgres_url},
    )
    assert_refused(result, grpc_port, "gRPC")
    with psycopg.connect(postgres_url) as db:
        checkpoints = db.execute("SELECT name FROM eskit_checkpoints").fetchall()
    assert checkpoints == []  # the second server ran no projection
    code, out = first.terminate()
    assert code == 0, out
