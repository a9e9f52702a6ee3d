"""Prometheus metrics of eskit: the families, and the cheap calls that feed them.

Built on ``prometheus_client`` (the reference client): an increment is a lock and an add,
with no SDK pipeline between the call and the value. The hot paths (command handling,
projection batches, the relay, consumers, the queue worker) call the ``record_*``
functions here, one line each. Gauges that come from the database (lag, sagas, the
queue's depth, the read horizon) are set by :class:`~eskit.observability.collector.
MetricsCollector` on its own schedule, never by a scrape.

Labels are of low cardinality only: command and event-stream *types*, projection, relay
and consumer *names*, outcomes and error *codes*; never an id.

With ``PROMETHEUS_MULTIPROC_DIR`` set before this module is first imported (``eskit
serve --workers N`` sets it for its processes), values live in files of that directory
and :func:`exposition` sums the processes' counters; gauges say how they combine in
``multiprocess_mode``.

This module imports nothing of eskit but its errors: any layer may call it.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from asyncio import CancelledError
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, Concatenate, ParamSpec, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client import multiprocess as _multiprocess

from eskit.errors import (
    ConcurrencyError,
    DomainError,
    DuplicateEventError,
    EskitError,
    InvalidCommandError,
    NotFoundError,
    UnknownCommandTypeError,
)

__all__ = [
    "MULTIPROCESS_ENV",
    "exposition",
    "family_names",
    "forget_process",
    "measure_command",
    "multiprocess_directory",
    "record_append",
    "record_append_conflict",
    "record_command_retry",
    "record_consumer_batch",
    "record_consumer_dead_letter",
    "record_consumer_retry",
    "record_projection_batch",
    "record_projection_error",
    "record_queue_outcomes",
    "record_relay_broker_error",
    "record_relay_published",
    "set_enabled",
    "start_metrics_server",
]

_log = logging.getLogger(__name__)

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""The variable naming the directory where processes keep their values (multiprocess mode)."""

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0
)  # fmt: skip
_BATCH_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# -- write side ----------------------------------------------------------------------------

COMMANDS = Counter(
    "eskit_commands",
    "Commands handled, by command type and outcome (ok, refused, conflict, error); code is "
    "the error code of a refused command or a failed one, empty when ok.",
    ["command", "outcome", "code"],
)
COMMAND_DURATION = Histogram(
    "eskit_command_duration_seconds",
    "Time to handle a command (load, decide, append, retries included), by type and outcome.",
    ["command", "outcome"],
    buckets=_LATENCY_BUCKETS,
)
COMMAND_RETRIES = Counter(
    "eskit_command_retries",
    "Commands decided again after a concurrency conflict, by command type.",
    ["command"],
)
APPENDS = Counter("eskit_appends", "Appends that wrote events, by stream type.", ["stream_type"])
EVENTS_APPENDED = Counter(
    "eskit_events_appended", "Events appended, by stream type.", ["stream_type"]
)
APPEND_CONFLICTS = Counter(
    "eskit_append_conflicts",
    "Appends refused because the stream had moved (optimistic concurrency), by stream type.",
    ["stream_type"],
)

# -- projections ---------------------------------------------------------------------------

PROJECTION_EVENTS = Counter(
    "eskit_projection_events", "Events handled by each projection.", ["projection"]
)
PROJECTION_BATCH_DURATION = Histogram(
    "eskit_projection_batch_duration_seconds",
    "Time to handle and commit one batch of a projection, checkpoint included.",
    ["projection"],
    buckets=_BATCH_BUCKETS,
)
PROJECTION_ERRORS = Counter(
    "eskit_projection_errors",
    "Failed attempts of a projection's handlers (each retry that fails counts).",
    ["projection"],
)
PROJECTION_POSITION = Gauge(
    "eskit_projection_position",
    "The projection's checkpoint (a global position).",
    ["projection"],
    multiprocess_mode="livemostrecent",
)
PROJECTION_LAG_EVENTS = Gauge(
    "eskit_projection_lag_events",
    "Events the projection reads that lie after its checkpoint.",
    ["projection"],
    multiprocess_mode="livemostrecent",
)
PROJECTION_LAG_SECONDS = Gauge(
    "eskit_projection_lag_seconds",
    "Age of the oldest event the projection has not handled yet (0 when caught up).",
    ["projection"],
    multiprocess_mode="livemostrecent",
)
PROJECTION_STATE = Gauge(
    "eskit_projection_state",
    "1 for the projection's state (live, catching_up, stalled, failing), 0 for the others.",
    ["projection", "state"],
    multiprocess_mode="livemostrecent",
)
PROJECTION_STATES = ("live", "catching_up", "stalled", "failing")

# -- messaging -----------------------------------------------------------------------------

RELAY_PUBLISHED = Counter(
    "eskit_relay_messages_published",
    "Messages the relay published and the broker acknowledged.",
    ["relay"],
)
RELAY_BROKER_ERRORS = Counter(
    "eskit_relay_broker_errors",
    "Batches the broker did not acknowledge (the relay stalls and retries).",
    ["relay"],
)
RELAY_POSITION = Gauge(
    "eskit_relay_position",
    "The relay's checkpoint (a global position).",
    ["relay"],
    multiprocess_mode="livemostrecent",
)
RELAY_LAG_EVENTS = Gauge(
    "eskit_relay_lag_events",
    "Events after the relay's checkpoint, of every stream type.",
    ["relay"],
    multiprocess_mode="livemostrecent",
)
RELAY_STALLED = Gauge(
    "eskit_relay_stalled",
    "1 while the relay's last batch failed at the broker (its stored error), else 0.",
    ["relay"],
    multiprocess_mode="livemostrecent",
)
CONSUMER_MESSAGES = Counter(
    "eskit_consumer_messages",
    "Messages a consumer took from the bus, by outcome: handled, duplicate (already in its "
    "inbox), held_back (waiting for an earlier event of its stream).",
    ["consumer", "outcome"],
)
CONSUMER_RETRIES = Counter(
    "eskit_consumer_retries",
    "Attempts a consumer's handler failed and retried.",
    ["consumer"],
)
CONSUMER_DEAD_LETTERS = Counter(
    "eskit_consumer_dead_letters",
    "Messages a consumer gave up on and sent to its dead-letter topic, by reason.",
    ["consumer", "reason"],
)

# -- process layer ------------------------------------------------------------------------

SAGAS = Gauge(
    "eskit_sagas",
    "Saga instances by saga and state (running, completed, compensating, compensated, "
    "failed, stuck: running or compensating with no event for the stuck threshold).",
    ["saga", "state"],
    multiprocess_mode="livemostrecent",
)
SAGA_STATES = ("running", "completed", "compensating", "compensated", "failed", "stuck")
QUEUE_COMMANDS = Counter(
    "eskit_queue_commands",
    "Queued commands a worker finished with, by outcome: done, refused, retried (queued "
    "again after a transient failure), dead.",
    ["outcome"],
)
QUEUE_DEPTH = Gauge(
    "eskit_queue_depth_commands",
    "Commands in the queue by state: ready (due, waiting), running (claimed), scheduled "
    "(due later).",
    ["state"],
    multiprocess_mode="livemostrecent",
)
QUEUE_OLDEST_READY_AGE = Gauge(
    "eskit_queue_oldest_ready_age_seconds",
    "How long the longest-waiting ready command has been due (0 when none waits).",
    multiprocess_mode="livemostrecent",
)

# -- the store -----------------------------------------------------------------------------

POOL_CONNECTIONS = Gauge(
    "eskit_store_pool_connections",
    "The store's connection pool (PostgreSQL): open (idle or lent), in_use, max; summed "
    "over processes.",
    ["state"],
    multiprocess_mode="livesum",
)
POOL_WAITING = Gauge(
    "eskit_store_pool_waiting_requests",
    "Callers waiting for a free connection of the store's pool; summed over processes.",
    multiprocess_mode="livesum",
)
WRITE_QUEUE = Gauge(
    "eskit_store_write_queue_items",
    "Writes waiting for the store's writer (the SQLite writer thread's jobs, the PostgreSQL "
    "append combiner's appends); summed over processes.",
    multiprocess_mode="livesum",
)
HORIZON_AGE = Gauge(
    "eskit_store_read_horizon_age_seconds",
    "Age of the oldest transaction holding readers of the global log back (PostgreSQL; 0 "
    "when none does).",
    multiprocess_mode="livemostrecent",
)
HORIZON_PENDING = Gauge(
    "eskit_store_read_horizon_pending_events",
    "Committed events readers may not see yet, because an older transaction is still open.",
    multiprocess_mode="livemostrecent",
)

# -- recording -----------------------------------------------------------------------------

_Children = tuple[Any, Any]
_command_children: dict[tuple[str, str, str], _Children] = {}
_labelled: dict[tuple[int, tuple[str, ...]], Any] = {}


_enabled = True


def set_enabled(on: bool) -> None:
    """Turn the hot paths' counting on or off (on by default): to measure what it costs,
    or where nothing scrapes. The collector's gauges are not affected."""
    global _enabled
    _enabled = on


def _child(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, bound once: a dictionary lookup on later calls."""
    key = (id(metric), labels)
    found = _labelled.get(key)
    if found is None:
        found = _labelled[key] = metric.labels(*labels)
    return found


_REFUSALS = (
    DomainError,
    NotFoundError,
    InvalidCommandError,
    DuplicateEventError,
    UnknownCommandTypeError,
)
"""What the command itself caused: a rule, validation, an unknown aggregate or type."""


def _command_outcome(error: BaseException | None) -> tuple[str, str]:
    """The outcome label and code of a command that raised ``error`` (None: it did not)."""
    if error is None:
        return "ok", ""
    if isinstance(error, ConcurrencyError):
        return "conflict", error.code
    if isinstance(error, _REFUSALS):
        return "refused", error.code
    if isinstance(error, EskitError):
        return "error", error.code
    return "error", "cancelled" if isinstance(error, CancelledError) else "internal_error"


def record_command(command_type: str, error: BaseException | None, duration_s: float) -> None:
    """Count one handled command and observe how long it took."""
    if not _enabled:
        return
    outcome, code = _command_outcome(error)
    key = (command_type, outcome, code)
    children = _command_children.get(key)
    if children is None:
        children = _command_children[key] = (
            COMMANDS.labels(command_type, outcome, code),
            COMMAND_DURATION.labels(command_type, outcome),
        )
    children[0].inc()
    children[1].observe(duration_s)


S = TypeVar("S")
P = ParamSpec("P")
R = TypeVar("R")


def measure_command(
    handle: Callable[Concatenate[S, Any, P], Awaitable[R]],
) -> Callable[Concatenate[S, Any, P], Awaitable[R]]:
    """Decorate an ``async handle(self, command, ...)``: count it by the command's type
    and outcome, and time it."""

    @wraps(handle)
    async def measured(self: S, command: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if not _enabled:
            return await handle(self, command, *args, **kwargs)
        started = time.perf_counter()
        try:
            result = await handle(self, command, *args, **kwargs)
        except BaseException as error:
            record_command(type(command).__name__, error, time.perf_counter() - started)
            raise
        record_command(type(command).__name__, None, time.perf_counter() - started)
        return result

    return measured


def record_command_retry(command_type: str) -> None:
    """Count a command decided again after a concurrency conflict."""
    if not _enabled:
        return
    _child(COMMAND_RETRIES, command_type).inc()


def record_append(stream_type: str, events: int, *, deduplicated: bool = False) -> None:
    """Count an append of ``events`` events (nothing when it was a repeat that wrote none)."""
    if not _enabled:
        return
    if deduplicated or not events:
        return
    _child(APPENDS, stream_type).inc()
    _child(EVENTS_APPENDED, stream_type).inc(events)


def record_append_conflict(stream_type: str) -> None:
    """Count an append refused by the optimistic version check."""
    if not _enabled:
        return
    _child(APPEND_CONFLICTS, stream_type).inc()


def record_projection_batch(projection: str, events: int, duration_s: float) -> None:
    """Count a committed batch of a projection: its events and how long it took."""
    if not _enabled:
        return
    if events:
        _child(PROJECTION_EVENTS, projection).inc(events)
    _child(PROJECTION_BATCH_DURATION, projection).observe(duration_s)


def record_projection_error(projection: str) -> None:
    """Count a failed attempt of a projection's handler."""
    _child(PROJECTION_ERRORS, projection).inc()


def record_relay_published(relay: str, messages: int) -> None:
    """Count messages the broker acknowledged to the relay."""
    if not _enabled:
        return
    if messages:
        _child(RELAY_PUBLISHED, relay).inc(messages)


def record_relay_broker_error(relay: str) -> None:
    """Count a batch the broker did not acknowledge."""
    _child(RELAY_BROKER_ERRORS, relay).inc()


def record_consumer_batch(consumer: str, *, handled: int, duplicates: int, held_back: int) -> None:
    """Count what one committed batch of a consumer did with its messages."""
    if not _enabled:
        return
    for outcome, count in (
        ("handled", handled),
        ("duplicate", duplicates),
        ("held_back", held_back),
    ):
        if count:
            _child(CONSUMER_MESSAGES, consumer, outcome).inc(count)


def record_consumer_retry(consumer: str) -> None:
    """Count a failed attempt of a consumer's handler that will be retried."""
    _child(CONSUMER_RETRIES, consumer).inc()


def record_consumer_dead_letter(consumer: str, reason: str) -> None:
    """Count a message sent to the consumer's dead-letter topic."""
    _child(CONSUMER_DEAD_LETTERS, consumer, reason).inc()


def record_queue_outcomes(outcomes: Iterable[str | None]) -> None:
    """Count the outcomes a queue worker recorded (None: queued again to retry)."""
    if not _enabled:
        return
    for outcome in outcomes:
        _child(QUEUE_COMMANDS, outcome or "retried").inc()


# -- exposition ----------------------------------------------------------------------------


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type.

    In multiprocess mode the values of every process writing to the directory are read
    (from files, a few milliseconds: call it off the event loop); else this process's.
    """
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def family_names() -> set[str]:
    """The names of every metric family eskit exports (without ``_total``, ``_bucket``, …)."""
    return {
        family.name
        for metric in globals().values()
        if isinstance(metric, Counter | Gauge | Histogram)
        for family in metric.describe()
    }


def forget_process(pid: int) -> None:
    """In multiprocess mode, drop the live gauges of process ``pid``, which has exited."""
    if os.environ.get(MULTIPROCESS_ENV):
        _multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def start_metrics_server(host: str, port: int) -> int | None:
    """Serve ``/metrics`` over HTTP on ``host:port`` from a thread of this process.

    Returns the port it listens on (``port`` may be 0 only where a free one is wanted:
    callers treat 0 as off and do not call this), or None if it cannot be bound: that is
    logged as a warning, and the process goes on without it, as its work matters more.
    """
    try:
        server, _ = start_http_server(port, addr=host)
    except OSError as exc:
        _log.warning("cannot serve metrics on %s:%s: %s", host, port, exc)
        return None
    _log.info("metrics on http://%s:%s/metrics", host, server.server_port)
    return int(server.server_port)


@contextmanager
def multiprocess_directory() -> Iterator[str]:
    """Multiprocess mode for the processes started inside: a fresh directory named by
    ``PROMETHEUS_MULTIPROC_DIR`` (inherited by child processes, which must import
    prometheus_client after it is set: spawned ones do), removed afterwards.

    If the variable is set already (an operator chose the directory), that one is used
    and left as it is.
    """
    given = os.environ.get(MULTIPROCESS_ENV)
    if given:
        yield given
        return
    directory = tempfile.mkdtemp(prefix="eskit-metrics-")
    os.environ[MULTIPROCESS_ENV] = directory
    try:
        yield directory
    finally:
        os.environ.pop(MULTIPROCESS_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)
