"""Command handling: load, decide, append; retried on conflicts, idempotent by command id."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from opentelemetry import trace
from opentelemetry.trace import StatusCode

from eskit.app.cache import AggregateCache
from eskit.app.command_repository import CommandRepository
from eskit.app.metadata import FINGERPRINT_KEY, command_metadata
from eskit.domain.aggregate import Aggregate
from eskit.domain.commands import Command
from eskit.domain.ids import derive_uuid7
from eskit.errors import (
    ConcurrencyError,
    DomainError,
    DuplicateEventError,
    EskitError,
    NotFoundError,
)
from eskit.logcontext import log_context
from eskit.observability.metrics import (
    measure_command,
    record_append_conflict,
    record_command_retry,
)
from eskit.observability.tracing import span, tracing_on
from eskit.store.keyed_locks import KeyedLocks
from eskit.store.records import NO_STREAM, CommandOutcome

__all__ = ["FINGERPRINT_KEY", "CommandHandler", "CommandResult"]

A = TypeVar("A", bound=Aggregate)
C = TypeVar("C", bound=Command)

Creator = Callable[[Any], A]
Updater = Callable[[A, Any], None]


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a handled command did: the aggregate's version and the position of its last event.

    ``deduplicated`` is true when the command id had been handled before and this answer
    repeats that first outcome; ``fingerprint`` is then the one that first handling was
    given (see :meth:`CommandHandler.handle`), None if it had none.
    """

    aggregate_id: str
    version: int
    position: int
    deduplicated: bool = False
    fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class _Route:
    creates: bool
    fn: Callable[..., Any]


class CommandHandler(Generic[A]):
    """Routes commands of one aggregate type to their decision functions.

    ``@handler.creates(OpenAccount)`` marks a function ``(command) -> aggregate`` that makes a
    new aggregate; ``@handler.updates(DepositMoney)`` marks ``(aggregate, command) -> None``
    that calls the aggregate's methods. :meth:`handle` loads, decides and appends; on a
    ConcurrencyError it reloads and decides again, at most ``max_attempts`` times in all.

    Every event gets an id derived from the command id, so handling the same command twice
    appends once: the second call returns the first outcome with ``deduplicated=True``, even
    if deciding again would now break a rule (a repeated withdrawal, say).

    With ``serialize=True`` (the default) commands to one aggregate handled by this object
    take turns, so a burst of them in one process does not end in conflicts; handlers in
    other processes still meet at the store's optimistic version check. Taking turns also
    lets the handler keep the ``cache_size`` aggregates it saved last (see
    :class:`~eskit.app.cache.AggregateCache`): the next command to one of them decides on
    it without loading the stream. A cached aggregate another process has moved on from is
    caught by the version check (and loaded afresh), and a command refused on a cached
    aggregate is decided again on the stored one, so no refusal rests on a stale state.
    """

    def __init__(
        self,
        repository: CommandRepository[A],
        *,
        max_attempts: int = 5,
        serialize: bool = True,
        cache_size: int = 1024,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.repository = repository
        self.max_attempts = max_attempts
        self._routes: dict[type[Command], _Route] = {}
        self._turns = KeyedLocks() if serialize else None
        self.cache: AggregateCache[A] = AggregateCache(cache_size if serialize else 0)

    def creates(self, command_type: type[C]) -> Callable[[Callable[[C], A]], Callable[[C], A]]:
        """Register the function that makes a new aggregate from ``command_type``."""

        def register(fn: Callable[[C], A]) -> Callable[[C], A]:
            self._add(command_type, _Route(True, fn))
            return fn

        return register

    def updates(
        self, command_type: type[C]
    ) -> Callable[[Callable[[A, C], None]], Callable[[A, C], None]]:
        """Register the function that applies ``command_type`` to a loaded aggregate."""

        def register(fn: Callable[[A, C], None]) -> Callable[[A, C], None]:
            self._add(command_type, _Route(False, fn))
            return fn

        return register

    @property
    def command_types(self) -> list[type[Command]]:
        """The command types this handler has a function for."""
        return list(self._routes)

    def makes_new(self, command: Command) -> bool:
        """Whether ``command`` makes a new aggregate (its function was registered with
        :meth:`creates`) rather than changing the one its ``aggregate_id`` names.

        Raises TypeError for a command this handler has no function for.
        """
        route = self._routes.get(type(command))
        if route is None:
            raise TypeError(f"no handler for {type(command).__name__}")
        return route.creates

    def _add(self, command_type: type[Command], route: _Route) -> None:
        if command_type in self._routes:
            raise ValueError(f"{command_type.__name__} already has a handler")
        self._routes[command_type] = route

    @measure_command
    async def handle(
        self,
        command: Command,
        metadata: Mapping[str, Any] | None = None,
        *,
        replay: bool = False,
        fingerprint: str | None = None,
    ) -> CommandResult:
        """Handle ``command``; raises its domain errors, NotFoundError or ConcurrencyError.

        ``replay=True`` says the command id may have been handled before (a client's retry):
        its first outcome, if any, is answered before deciding anything again, and an
        outcome that recorded no event (a repeated payment) is kept in the store so that
        its retries answer it too. Without it a retried command is still applied at most
        once, but one that decides to do nothing the second time answers the current state.

        ``fingerprint`` (which implies ``replay``) names the request; it is kept with the
        outcome, and a repeat's answer carries the first one's, so the caller can tell a
        retry from another request sent under the same command id.
        """
        route = self._routes.get(type(command))
        if route is None:
            raise TypeError(f"no handler for {type(command).__name__}")
        if not tracing_on():
            return await self._route(route, command, metadata, replay, fingerprint)
        with span(f"command {type(command).__name__}", record_errors=False) as current:
            current.set_attributes(_command_attributes(command))
            try:
                result = await self._route(route, command, metadata, replay, fingerprint)
            except EskitError as exc:  # an answer (refused, not found, conflict), not a fault
                current.set_attributes({"eskit.outcome": "refused", "eskit.error.code": exc.code})
                raise
            except Exception as exc:
                current.record_exception(exc)
                current.set_status(StatusCode.ERROR, type(exc).__name__)
                raise
            current.set_attributes(_result_attributes(result))
            return result

    async def _route(
        self,
        route: _Route,
        command: Command,
        metadata: Mapping[str, Any] | None,
        replay: bool,
        fingerprint: str | None,
    ) -> CommandResult:
        meta = command_metadata(command, metadata)
        if fingerprint is not None:
            meta[FINGERPRINT_KEY] = fingerprint
            replay = True
        # what is logged while the command is handled names its chain and its stream
        with log_context(correlation_id=meta["correlation_id"], stream_id=command.aggregate_id):
            if self._turns is None or route.creates:
                return await self._handle(route, command, meta, replay)
            async with self._turns.hold(command.aggregate_id):
                return await self._handle(route, command, meta, replay)

    async def _handle(
        self, route: _Route, command: Command, meta: dict[str, Any], replay: bool
    ) -> CommandResult:
        if replay and (earlier := await self._earlier_outcome(command)) is not None:
            return earlier
        for attempt in range(1, self.max_attempts + 1):
            try:
                return await self._attempt(route, command, meta, replay)
            except ConcurrencyError:
                record_append_conflict(self.repository.aggregate_type.stream_type)
                earlier = await self._earlier_outcome(command)
                if earlier is not None:
                    return earlier
                trace.get_current_span().add_event("concurrency conflict", {"attempt": attempt})
                if route.creates or attempt == self.max_attempts:
                    raise
                record_command_retry(type(command).__name__)
                await asyncio.sleep(random.uniform(0, 0.002 * attempt))  # spread retrying writers
            except (DomainError, NotFoundError, DuplicateEventError):
                earlier = await self._earlier_outcome(command)
                if earlier is not None:
                    return earlier
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(
        self, route: _Route, command: Command, meta: dict[str, Any], replay: bool
    ) -> CommandResult:
        cached = False
        if route.creates:
            aggregate: A = route.fn(command)
            expected: Any = NO_STREAM
        else:
            aggregate, cached = await self._decide(route, command)
            expected = None
        ids = [derive_uuid7(command.command_id, i) for i in range(len(aggregate.pending_events))]
        try:
            with span("append"):
                result = await self.repository.save(
                    aggregate, metadata=meta, event_ids=ids, expected_version=expected
                )
        except ConcurrencyError:
            if cached:
                self.cache.found_stale()
            raise
        if not result.deduplicated:  # a deduplicated append left the aggregate ahead of it
            self.cache.put(aggregate)
        if replay and not ids:
            return await self._keep_outcome(command, result.version, result.position, meta)
        return CommandResult(aggregate.id, result.version, result.position, result.deduplicated)

    async def _decide(self, route: _Route, command: Command) -> tuple[A, bool]:
        """The aggregate with ``command`` decided on it (the cached one, else loaded), and
        whether it came from the cache unchecked."""
        cached = self.cache.take(command.aggregate_id)
        if cached is not None and self.cache.needs_catching_up:
            version = cached.version
            with span("load", {"eskit.cached": True}):
                aggregate = await self.repository.catch_up(cached)
            if aggregate.version != version:
                self.cache.found_stale()  # others still write: keep catching up
            with span("decide", record_errors=False):
                route.fn(aggregate, command)
            return aggregate, False
        if cached is not None:
            try:
                with span("decide", {"eskit.cached": True}, record_errors=False):
                    route.fn(cached, command)
            except Exception:  # perhaps only because it is stale: decide on the stored state
                pass
            else:
                return cached, True
        with span("load"):
            aggregate = await self.repository.load(command.aggregate_id)
        with span("decide", record_errors=False):
            route.fn(aggregate, command)
        return aggregate, False

    async def _keep_outcome(
        self, command: Command, version: int, position: int, meta: dict[str, Any]
    ) -> CommandResult:
        """Keep the outcome of a command that recorded nothing, for its retries to find."""
        mine = CommandOutcome(
            command.command_id,
            command.aggregate_id,
            version,
            position,
            meta.get(FINGERPRINT_KEY, ""),
        )
        kept = await self.repository.keep_outcome(mine)
        # another process may have kept its outcome for this id first: answer that one
        theirs = (kept.stream_id, kept.version, kept.position, kept.fingerprint) != (
            mine.stream_id,
            mine.version,
            mine.position,
            mine.fingerprint,
        )
        return _result_of(kept, deduplicated=theirs)

    async def _earlier_outcome(self, command: Command) -> CommandResult | None:
        """The outcome of an earlier handling of this command id, if there was one."""
        earlier = await self.repository.earlier_outcome(command.command_id)
        return None if earlier is None else _result_of(earlier, deduplicated=True)


def _command_attributes(command: Command) -> dict[str, Any]:
    return {
        "eskit.command.type": type(command).__name__,
        "eskit.command.id": str(command.command_id),
        "eskit.aggregate.id": command.aggregate_id,
    }


def _result_attributes(result: CommandResult) -> dict[str, Any]:
    return {
        "eskit.outcome": "deduplicated" if result.deduplicated else "ok",
        "eskit.aggregate.id": result.aggregate_id,
        "eskit.version": result.version,
        "eskit.position": result.position,
    }


def _result_of(outcome: CommandOutcome, *, deduplicated: bool) -> CommandResult:
    return CommandResult(
        outcome.stream_id,
        outcome.version,
        outcome.position,
        deduplicated=deduplicated,
        fingerprint=outcome.fingerprint or None,
    )
