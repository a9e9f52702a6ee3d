"""Running eskit commands as real processes, for the end-to-end tests of serving.

Each serves the wallets' tiny service (``tests.wallets.service``) unless told otherwise.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

ESKIT = str(Path(sys.executable).with_name("eskit"))
ROOT = Path(__file__).resolve().parents[2]
WALLETS_SERVICE = "tests.wallets.service:service"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """An eskit command running in ``cwd``; its output is collected on stop."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        full_env = {
            **os.environ,
            "COLUMNS": "200",
            "PYTHONPATH": path,  # the wallets' service lives in the tests
            "ESKIT_SERVICE": WALLETS_SERVICE,
            **env,
        }
        if "ESKIT_DATABASE_URL" not in env:
            full_env.pop("ESKIT_DATABASE_URL", None)  # the default: ./eskit.db
        self.proc = subprocess.Popen(
            [ESKIT, *args],
            cwd=cwd,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.early = ""  # output read before the process stopped

    def read_line(self, prefix: str, timeout_s: float = 30.0) -> str:
        """The first line of output that starts with ``prefix`` (the lines before it are
        kept for :meth:`wait`)."""
        assert self.proc.stdout is not None
        reader = ThreadPoolExecutor(1)
        try:
            while True:
                line = reader.submit(self.proc.stdout.readline).result(timeout=timeout_s)
                if not line:
                    raise AssertionError(f"no line starting with {prefix!r}: {self.early}")
                if line.startswith(prefix):
                    return line.rstrip("\n")
                self.early += line
        finally:
            reader.shutdown(wait=False)  # a read still blocked ends when the process does

    def terminate(self, timeout_s: float = 20.0) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout_s)

    def wait(self, timeout_s: float = 20.0) -> tuple[int, str]:
        out, _ = self.proc.communicate(timeout=timeout_s)
        return self.proc.returncode, self.early + out

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.kill()


def wait_ready(base: str, process: Process, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.proc.poll() is not None:
            raise AssertionError(process.proc.communicate()[0])
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("the service did not become ready")


def open_wallet(base: str, balance: int = 1000) -> str:
    body = {"owner": "Ann Lee", "balance": balance}
    answer = httpx.post(f"{base}/wallets", json=body, timeout=10)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])
