"""The ``eskit`` command run as a child process in tests, killed the hard way, and the
leases it held freed (so the next process need not wait for them to expire)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from eskit.store import TransactionalStore

__all__ = ["eskit_command", "free_leases", "kill_hard"]


def eskit_command() -> list[str]:
    """The command that runs the ``eskit`` CLI of this interpreter's environment."""
    script = Path(sys.executable).with_name("eskit")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from eskit.cli.main import main; main()"]


def kill_hard(proc: subprocess.Popen[str]) -> int:
    """SIGKILL ``proc`` (if it still runs), wait for it, close its stdout; its exit code."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    code = proc.wait(timeout=30)
    if proc.stdout is not None:
        proc.stdout.close()
    return code


async def free_leases(store: TransactionalStore, pid: int) -> int:
    """Release every lease held by the process ``pid`` (one killed on purpose: its leases
    would expire after their time to live); how many were released."""
    held = [lease for lease in await store.committed.leases.list() if lease.pid == pid]
    async with store.transaction() as tx:
        released = [await tx.leases.release(lease.name, lease.holder) for lease in held]
    return sum(released)
