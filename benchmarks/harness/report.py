"""The result table, the targets and the headline (always the last line)."""

from __future__ import annotations

import shutil
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from rich import box
from rich.console import Console
from rich.table import Table

from harness.results import Row

__all__ = ["headline", "print_report"]

WORKLOADS = (
    "append x1",
    "batch x100",
    "load",
    "read-all",
    "catch-up",
    "latency",
    "rebuild",
    "service",
)
ROLE_ORDER = {"eskit": 0, "raw": 1, "peer": 2}
BACKEND_ORDER = {"postgres": 0, "sqlite": 1}


@dataclass(frozen=True)
class Cell:
    row: Row
    raw: Row | None
    peer: Row | None

    @property
    def vs_raw(self) -> float | None:
        """Throughput as a fraction of raw's, or time as a fraction of raw's."""
        if self.raw is None:
            return None
        return self.row.median / self.raw.median

    @property
    def vs_peer(self) -> float | None:
        """How many times faster than eventsourcing (throughput ratio or inverse time ratio)."""
        if self.peer is None:
            return None
        if self.row.higher_is_better:
            return self.row.median / self.peer.median
        return self.peer.median / self.row.median


def _cells(rows: Iterable[Row]) -> list[Cell]:
    rows = [r for r in rows if r.samples]
    groups: dict[tuple[str, str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.workload, row.backend, row.case), []).append(row)
    cells: list[Cell] = []
    for group in groups.values():
        raw = next((r for r in group if r.role == "raw" and r.is_reference), None)
        peers = {r.pair: r for r in group if r.role == "peer" and r.is_reference}
        for row in sorted(group, key=lambda r: ROLE_ORDER[r.role]):
            peer = peers.get(row.pair, peers.get("")) if row.role == "eskit" else None
            cells.append(Cell(row, raw, peer))
    workload_rank = {w: i for i, w in enumerate(WORKLOADS)}
    first_seen = {id(c.row): i for i, c in enumerate(cells)}
    return sorted(
        cells,
        key=lambda c: (
            workload_rank.get(c.row.workload, 99),
            BACKEND_ORDER[c.row.backend],
            first_seen[id(c.row)],
        ),
    )


def _value(value: float, unit: str) -> str:
    if unit in ("ev/s", "cmd/s"):
        return f"{value:,.0f}"
    if unit == "s":
        return f"{value:,.1f}"
    return f"{value:,.3f}" if value < 10 else f"{value:,.1f}"


def _spread(row: Row) -> str:
    low, high = min(row.samples), max(row.samples)
    return f"{_value(low, row.unit)}-{_value(high, row.unit)}"


def _vs_raw(cell: Cell) -> str:
    ratio = cell.vs_raw
    if ratio is None:
        return "-"
    if cell.row.role == "raw":
        return "100%"
    return f"{ratio:.0%}" + ("" if cell.row.higher_is_better else " time")


def _vs_peer(cell: Cell) -> str:
    ratio = cell.vs_peer
    return "" if ratio is None else f"{ratio:.1f}x"


def print_report(rows: list[Row], *, title: str, console: Console | None = None) -> None:
    main = [r for r in rows if r.workload != "service"]
    service = [r for r in rows if r.workload == "service"]
    wide = 240 if service else 160  # the service table has latency and CPU columns
    console = console or Console(width=max(shutil.get_terminal_size().columns, wide))
    if main or not service:
        _print_main(main, title, console)
    if service:
        _print_service(service, title if not main else "", console)
    for line in _targets(rows) + _service_targets(rows):
        console.print(line, highlight=False)


def _table(title: str) -> Table:
    return Table(title=title or None, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)


def _print_main(rows: list[Row], title: str, console: Console) -> None:
    table = _table(title)
    for name in ("workload", "backend", "case", "contender"):
        table.add_column(name, no_wrap=True)
    table.add_column("median", justify="right", no_wrap=True)
    table.add_column("unit", no_wrap=True)
    table.add_column("min-max", justify="right", no_wrap=True)
    table.add_column("vs raw", justify="right", no_wrap=True)
    table.add_column("x eventsourcing", justify="right", no_wrap=True)
    previous: tuple[str, str] | None = None
    for cell in _cells(rows):
        row = cell.row
        key = (row.workload, row.backend)
        if previous is not None and key != previous:
            table.add_section()
        previous = key
        style = "bold" if row.role == "eskit" else ("dim" if row.role == "peer" else "")
        table.add_row(
            row.backend,
            row.case,
            row.contender,
            _value(row.median, row.unit),
            row.unit,
            _spread(row),
            _vs_raw(cell),
            _vs_peer(cell),
            style=style,
        )
    console.print(table)
    console.print(
        "vs raw: ev/s as % of raw's (higher is better); ms and s as % of raw's time (lower is "
        "better)\nx eventsourcing: how many times faster eskit is than eventsourcing (same pair)"
        + (
            "\nlatency: the percentile over every append of the run (not a median); min-max: "
            "the same percentile in each part of the run"
            if any(r.workload == "latency" for r in rows)
            else ""
        ),
        highlight=False,
    )


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _percent(values: list[float]) -> str:
    return f"{_median(values):.0%}"


def _print_service(rows: list[Row], title: str, console: Console) -> None:
    """The service load: one row per backend, case and contender, with its latencies."""
    table = _table(title)
    for name in ("service", "case", "contender"):
        table.add_column(name, no_wrap=True)
    table.add_column("median", justify="right", no_wrap=True)
    table.add_column("unit", no_wrap=True)
    for name in ("min-max", "p50 ms", "p99 ms", "max ms", "errors", "CPU srv", "srv ms/cmd"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("CPU gen", justify="right", no_wrap=True)
    for name in ("CPU all", "vs raw", "x eventsourcing"):
        table.add_column(name, justify="right", no_wrap=True)
    previous = None
    for cell in _cells(rows):
        row = cell.row
        if previous is not None and row.backend != previous:
            table.add_section()
        previous = row.backend
        style = "bold" if row.role == "eskit" else ("dim" if row.role == "peer" else "")
        table.add_row(
            row.backend,
            row.case,
            row.contender,
            _value(row.median, row.unit),
            row.unit,
            _spread(row),
            *(f"{_median(row.extra.get(k, [])):.1f}" for k in ("p50", "p99", "max")),
            f"{sum(row.extra.get('errors', [])):.0f}",
            _percent(row.extra.get("server_cpu", [])),
            f"{_median(row.extra.get('server_ms', [])):.2f}",
            *(_percent(row.extra.get(k, [])) for k in ("gen_cpu", "machine_cpu")),
            _vs_raw(cell),
            _vs_peer(cell),
            style=style,
        )
    console.print(table)
    console.print(
        "service: commands/s answered 200 in the measured window, median of the samples; p50, "
        "p99, max: medians of each sample's figure over every deposit (ms, request sent to "
        "answer read); errors: non-200 answers, all samples; CPU srv / gen: the server's / the "
        "load generator's process, 100% = one core, over the window (PostgreSQL's own "
        "processes not included); srv ms/cmd: the server's CPU time per command; CPU all: "
        "the machine, every core, other work included",
        highlight=False,
    )


def _service_targets(rows: list[Row]) -> list[str]:
    """The service target on PostgreSQL: >= 1,500 commands/s with p99 <= 50 ms."""
    lines = []
    for row in rows:
        if not (row.workload == "service" and row.backend == "postgres" and row.role == "eskit"):
            continue
        if not row.samples:
            continue
        p99 = _median(row.extra.get("p99", []))
        ok = row.median >= 1_500 and p99 <= 50
        lines.append(
            f"target postgres service >= 1,500 commands/s with p99 <= 50 ms ({row.case}): "
            f"{row.contender} {row.median:,.0f} cmd/s, p99 {p99:.1f} ms: "
            f"{'met' if ok else 'not met'}"
        )
    return lines


def _find(rows: list[Row], workload: str, backend: str, case: str, contender: str) -> Row | None:
    for row in rows:
        if not row.samples:
            continue
        if (row.workload, row.backend, row.case) == (workload, backend, case) and (
            row.contender == contender
        ):
            return row
    return None


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _targets(rows: list[Row]) -> list[str]:
    lines: list[str] = []
    for backend in ("postgres", "sqlite"):
        raw_name = "raw psycopg" if backend == "postgres" else "raw sqlite3"
        long_case, short_case = "10,000 events", "10 events"
        plain = _find(rows, "load", backend, long_case, "eskit")
        raw = _find(rows, "load", backend, long_case, raw_name)
        if plain and raw:
            ratio = plain.median / raw.median
            lines.append(
                f"target {backend} load 10,000 events, no snapshot, within 2x raw: "
                f"{plain.median:.1f} ms = {ratio:.2f}x {raw_name} ({raw.median:.1f} ms): "
                f"{_verdict(ratio <= 2)}"
            )
        short = _find(rows, "load", backend, short_case, "eskit")
        for label in ("eskit + snapshot", "eskit + snapshot, constant state"):
            snap = _find(rows, "load", backend, long_case, label)
            if snap and short:
                ratio = snap.median / short.median
                lines.append(
                    f"target {backend} load 10,000 events with snapshot ({label}) within 2x "
                    f"a 10-event load: {snap.median:.2f} ms = {ratio:.1f}x {short.median:.2f} ms: "
                    f"{_verdict(ratio <= 2)}"
                )
        reads = [r for r in rows if r.workload == "read-all" and r.backend == backend and r.samples]
        best = next((r for r in reads if r.role == "eskit" and r.is_reference), None)
        raw_read = next((r for r in reads if r.role == "raw"), None)
        if best and raw_read:
            ratio = best.median / raw_read.median
            lines.append(
                f"target {backend} read-all >= 80% of raw and >= 100,000 ev/s: "
                f"{best.contender} {best.median:,.0f} ev/s = {ratio:.0%} of {raw_read.contender}: "
                f"{_verdict(ratio >= 0.8 and best.median >= 100_000)}"
            )
    for backend in ("postgres", "sqlite"):
        lines += _read_side_targets(rows, backend)
    return lines


def _in_case(rows: list[Row], like: Row, role: str) -> Row | None:
    """The reference row of ``role`` in ``like``'s case."""
    for row in rows:
        if (row.workload, row.backend, row.case) == (like.workload, like.backend, like.case) and (
            row.role == role and row.is_reference and row.samples
        ):
            return row
    return None


def best_catchup(rows: list[Row], backend: str) -> Row | None:
    """The fastest eskit catch-up on ``backend``."""
    found = [
        r
        for r in rows
        if r.workload == "catch-up" and r.backend == backend and r.role == "eskit" and r.samples
    ]
    return max(found, key=lambda r: r.median, default=None)


def _read_side_targets(rows: list[Row], backend: str) -> list[str]:
    lines: list[str] = []
    best = best_catchup(rows, backend)
    if best:
        parts = [f"{best.contender} {best.median:,.0f} ev/s"]
        raw = _in_case(rows, best, "raw")
        if raw:
            parts.append(f"{best.median / raw.median:.0%} of {raw.contender}")
        peer = _in_case(rows, best, "peer")
        if peer:
            parts.append(f"{best.median / peer.median:.1f}x {peer.contender}")
        runner = next(
            (
                r
                for r in rows
                if r.workload == "catch-up" and r.backend == backend and "runner" in r.contender
            ),
            None,
        )
        if runner and runner.samples:
            parts.append(f"{best.median / runner.median:.0f}x {runner.contender}")
        lines.append(
            f"target {backend} catch-up >= 30,000 ev/s: {', '.join(parts)}: "
            f"{_verdict(best.median >= 30_000)}"
        )
    latency = [r for r in rows if r.workload == "latency" and r.backend == backend and r.samples]
    for contender in dict.fromkeys(r.contender for r in latency):
        by_case = {r.case.split(",")[0]: r for r in latency if r.contender == contender}
        p50, p99, top = by_case.get("p50"), by_case.get("p99"), by_case.get("max")
        if not (p50 and p99 and top):
            continue
        figures = (
            f"{contender}: p50 {p50.median:.1f} ms, p99 {p99.median:.1f} ms, "
            f"max {top.median:.1f} ms"
        )
        appends = p99.case.split(", ", 1)[1].replace(" at ", " appends at ")
        if backend == "postgres":
            lines.append(
                f"target postgres latency p99 <= 50 ms ({appends}; the runner process wakes on "
                f"NOTIFY): {figures}: {_verdict(p99.median <= 50)}"
            )
        else:
            lines.append(f"{backend} latency ({appends}): {figures}")
    rebuilt = [r for r in rows if r.workload == "rebuild" and r.backend == backend and r.samples]
    eskit_s = next((r for r in rebuilt if r.role == "eskit" and r.unit == "s"), None)
    raw_s = next((r for r in rebuilt if r.role == "raw" and r.unit == "s"), None)
    preload = next((r for r in rebuilt if r.case.startswith("preload")), None)
    if eskit_s:
        events = eskit_s.case.split(" events")[0]
        line = (
            f"{backend} rebuild of {events} events: eskit {eskit_s.median:.1f} s "
            f"({int(events.replace(',', '')) / eskit_s.median:,.0f} ev/s)"
        )
        if raw_s:
            line += f", {raw_s.contender} {raw_s.median:.1f} s"
        if preload:
            seconds = int(events.replace(",", "")) / preload.median
            line += f"; preload {seconds:.1f} s ({preload.median:,.0f} ev/s)"
        lines.append(line)
    return lines


def headline(rows: list[Row]) -> str:
    """``HEADLINE postgres append@16: eskit N ev/s = P% of raw psycopg, Mx eventsourcing``.

    A run without the appends (``--only``) heads with what it measured: the catch-up, the
    latency or the rebuild on PostgreSQL.
    """
    case = "16 writers"
    eskit = _find(rows, "append x1", "postgres", case, "eskit")
    raw = _find(rows, "append x1", "postgres", case, "raw psycopg")
    peer = _find(rows, "append x1", "postgres", case, "eventsourcing 9.5")
    if eskit and raw and peer and eskit.samples and raw.samples and peer.samples:
        return (
            f"HEADLINE postgres append@16: eskit {eskit.median:,.0f} ev/s = "
            f"{eskit.median / raw.median:.0%} of raw psycopg, "
            f"{eskit.median / peer.median:.1f}x eventsourcing"
        )
    if any(r.workload in ("append x1", "batch x100", "load", "read-all") for r in rows):
        return "HEADLINE postgres append@16: not measured in this run"
    return (
        _read_side_headline(rows)
        or _service_headline(rows)
        or "HEADLINE postgres append@16: not measured in this run"
    )


def _service_headline(rows: list[Row]) -> str | None:
    """The eskit service on PostgreSQL at its best in-flight level, with its ratios."""
    found = [
        r
        for r in rows
        if r.workload == "service" and r.backend == "postgres" and r.role == "eskit" and r.samples
    ]
    best = max(found, key=lambda r: r.median, default=None)
    if best is None:
        return None
    p99 = _median(best.extra.get("p99", []))
    text = f"HEADLINE postgres service: eskit {best.median:,.0f} commands/s, p99 {p99:.1f} ms"
    text += f" ({best.case})"
    raw, peer = _in_case(rows, best, "raw"), _in_case(rows, best, "peer")
    if raw:
        text += f" = {best.median / raw.median:.0%} of raw psycopg"
    if peer:
        text += f", {best.median / peer.median:.1f}x eventsourcing"
    return text


def _read_side_headline(rows: list[Row]) -> str | None:
    best = best_catchup(rows, "postgres")
    if best:
        raw, peer = _in_case(rows, best, "raw"), _in_case(rows, best, "peer")
        text = f"HEADLINE postgres catch-up: eskit {best.median:,.0f} ev/s"
        if raw:
            text += f" = {best.median / raw.median:.0%} of raw psycopg"
        if peer:
            text += f", {best.median / peer.median:.1f}x eventsourcing"
        return text
    p99 = next(
        (
            r
            for r in rows
            if r.workload == "latency" and r.backend == "postgres" and r.case.startswith("p99")
        ),
        None,
    )
    if p99:
        appends = p99.case.split(", ", 1)[1].replace(" at ", " appends at ")
        return f"HEADLINE postgres latency: p99 {p99.median:.1f} ms ({appends})"
    rebuilt = next(
        (
            r
            for r in rows
            if r.workload == "rebuild"
            and r.backend == "postgres"
            and r.role == "eskit"
            and r.unit == "s"
        ),
        None,
    )
    if rebuilt:
        events = rebuilt.case.split(" events")[0]
        return (
            f"HEADLINE postgres rebuild: {events} events in {rebuilt.median:.1f} s "
            f"({int(events.replace(',', '')) / rebuilt.median:,.0f} ev/s)"
        )
    return None
