"""The progress bar of ``eskit projections rebuild``, and a summary that agrees with it.

The bar's last frame and the summary line show the same count, the same elapsed time
(the bar's own, stopped when the rebuild returns) and a rate made from those two, so
an operator never reads one speed on the bar and another underneath.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from eskit.projections.rebuild import RebuildResult

__all__ = ["RebuildProgress"]


class RebuildProgress:
    """``with RebuildProgress(console, name) as bar``: pass ``bar.update`` to the rebuild as
    its progress, then ``bar.finish(result)`` for the summary to print after the block."""

    def __init__(self, console: Console, name: str) -> None:
        self.name = name
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]} ev/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> RebuildProgress:
        self._bar.start()
        self._task = self._bar.add_task(f"rebuilding {self.name}", total=None, rate="-")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bar.stop()

    def update(self, done: int, total: int) -> None:
        """Show ``done`` of ``total`` events handled, and the rate so far."""
        task = self._current()
        rate = _rate(done, task.elapsed or 0.0)
        self._bar.update(task.id, completed=done, total=total, rate=rate)

    def finish(self, result: RebuildResult) -> str:
        """Stop the clock, draw the bar's last frame from ``result``; the summary line."""
        task = self._current()
        self._bar.stop_task(task.id)
        # rounded once, so that the rate printed is the count over the time printed
        seconds = round(task.elapsed or 0.0, 3)
        rate = _rate(result.events, seconds)
        total = max(int(task.total or 0), result.events)
        self._bar.update(task.id, completed=result.events, total=total, rate=rate)
        self._bar.refresh()
        return (
            f"rebuilt {self.name}: {result.events:,} events in {seconds:.3f} s "
            f"({rate} events/s), now at position {result.position}"
        )

    def _current(self) -> Task:
        assert self._task is not None, "use RebuildProgress in a with block"
        return next(t for t in self._bar.tasks if t.id == self._task)


def _rate(events: int, seconds: float) -> str:
    return f"{events / seconds:,.0f}" if seconds > 0 else "-"
