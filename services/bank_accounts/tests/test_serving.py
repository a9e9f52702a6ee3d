"""``python -m bank_accounts`` (what ``make run`` runs) serves the service until SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(base: str, proc: subprocess.Popen[str], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.communicate()[0])
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("the service did not become ready")


def test_the_service_runs_on_sqlite_in_the_working_directory(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ESKIT_")},
        "ESKIT_PORT": str(port),
        "ESKIT_GRPC_PORT": str(free_port()),
        "COLUMNS": "200",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bank_accounts"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, proc)
        body = {
            "email": "ann@example.com",
            "address": "1 Main St",
            "firstName": "Ann",
            "lastName": "Lee",
            "balance": 1000,
        }
        opened = httpx.post(f"{base}/api/v1/accounts", json=body).json()
        deposited = httpx.post(
            f"{base}/api/v1/accounts/{opened['id']}/deposit", json={"amount": 5, "paymentId": "p"}
        )
        position = deposited.headers["ESKIT-Position"]
        got = httpx.get(f"{base}/api/v1/accounts/{opened['id']}", params={"minPosition": position})
        assert got.json()["balance"] == {"amount": 1005, "currency": "USD"}
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    assert "serving bank_accounts" in out
    assert out.rstrip().endswith("stopped")
    assert (tmp_path / "eskit.db").exists()
