"""The ``eskit`` command run as a child process in tests, and killed the hard way."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

__all__ = ["eskit_command", "kill_hard"]


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
