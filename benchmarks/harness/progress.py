"""Progress lines on standard error, while the report goes to standard output."""

from __future__ import annotations

import sys
import time

from rich.console import Console

progress = Console(stderr=True, highlight=False)


def note(message: str) -> None:
    progress.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")


def fail(message: str) -> None:
    progress.print(f"[red]{message}[/red]")
    sys.stderr.flush()
