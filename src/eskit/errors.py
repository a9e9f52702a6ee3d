"""Every failure a caller can act on, as one exception tree.

This module imports only the standard library, so every layer (the domain included) may use it::

    EskitError
    ├── InvalidCommandError          a command failed validation; .errors lists the fields
    │   └── ConflictingParametersError  parameters given together that exclude each other
    ├── NotFoundError                an aggregate or stream does not exist
    │   └── CommandNotFoundError     no queued command has this id
    ├── ConcurrencyError             the stream moved past the expected version
    ├── DomainError                  a business rule refused the command (subclass it)
    ├── DuplicateEventError          an event id is already stored with other content
    ├── EventDecodingError           a stored event cannot become a domain event
    │   ├── UnknownEventTypeError    no class is registered for the stored type
    │   ├── EventSchemaError         no way from the stored schema version to the current one
    │   └── CorruptRecordError       a record in the log is not one eskit wrote, or is damaged
    ├── ConfigurationError           a setting (such as the database URL) is unusable
    ├── StoreUnavailableError        the event store cannot be reached
    ├── CheckpointMovedError         another runner advanced a subscription's checkpoint
    ├── DocumentConflictError        a read-model document changed since it was read
    ├── ProjectionNotFoundError      no projection of that name is registered
    ├── HandlerFailedError           a projection's handler raised (in eskit.projections)
    ├── NotCaughtUpError             a read model did not reach a position within the bound
    ├── UnauthorizedError            an API call without a valid key
    ├── PayloadTooLargeError         a request body over the limit
    ├── UnsupportedMediaTypeError    a request body that is not declared as JSON
    ├── MalformedJsonError           a request body that is not JSON eskit reads
    ├── IdempotencyKeyReusedError    an idempotency key sent again with another request
    ├── SagaConflictError            a saga instance changed since it was read
    ├── UnknownCommandTypeError      a command names a type no handler is registered for
    └── QueueFullError               the command queue is full; .retry_after_s says when to retry
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "CheckpointMovedError",
    "CommandNotFoundError",
    "ConcurrencyError",
    "ConfigurationError",
    "ConflictingParametersError",
    "CorruptRecordError",
    "DocumentConflictError",
    "DomainError",
    "DuplicateEventError",
    "EskitError",
    "EventDecodingError",
    "EventSchemaError",
    "FieldError",
    "IdempotencyKeyReusedError",
    "InvalidCommandError",
    "MalformedJsonError",
    "NotCaughtUpError",
    "NotFoundError",
    "PayloadTooLargeError",
    "ProjectionNotFoundError",
    "QueueFullError",
    "SagaConflictError",
    "StoreUnavailableError",
    "UnauthorizedError",
    "UnknownCommandTypeError",
    "UnknownEventTypeError",
    "UnsupportedMediaTypeError",
    "describe_field_errors",
]


class EskitError(Exception):
    """Base of every error eskit raises on purpose."""

    code: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


FieldError = Mapping[str, Any]


class InvalidCommandError(EskitError):
    """A command (or other input) failed validation; ``errors`` names each bad field."""

    code = "validation_error"

    def __init__(self, model: str, errors: Sequence[FieldError]) -> None:
        super().__init__(f"invalid {model}: {describe_field_errors(errors)}")
        self.model = model
        self.errors = list(errors)


def describe_field_errors(errors: Sequence[FieldError], *, skip: int = 0) -> str:
    """Each bad field and what is wrong with it: ``"email: not a valid e-mail address"``.

    ``skip`` leaves out the first parts of each location (HTTP's ``body`` or ``query``).
    """
    described = []
    for error in errors:
        field = ".".join(str(part) for part in list(error.get("loc", ()))[skip:]) or "<root>"
        reason = error.get("message")
        described.append(f"{field}: {reason}" if reason else field)
    return "; ".join(described)


class ConflictingParametersError(InvalidCommandError):
    """Parameters that exclude each other were given together; ``errors`` names each."""

    code = "conflicting_parameters"

    def __init__(self, pairs: Sequence[tuple[str, str]], *, location: Sequence[str] = ()) -> None:
        partners: dict[str, list[str]] = {}
        for first, second in pairs:
            partners.setdefault(first, []).append(second)
            partners.setdefault(second, []).append(first)
        errors = [
            {
                "loc": [*location, name],
                "message": f"cannot be combined with {', '.join(others)}",
                "type": self.code,
            }
            for name, others in partners.items()
        ]
        super().__init__("parameters", errors)
        together = ", ".join(f"{first} with {second}" for first, second in pairs)
        self.message = f"conflicting parameters: {together} cannot be combined"
        self.args = (self.message,)
        self.pairs = list(pairs)


class NotFoundError(EskitError):
    """The aggregate or stream asked for does not exist (at that version or time)."""

    code = "not_found"

    def __init__(self, what: str, identifier: str, detail: str = "") -> None:
        suffix = f" ({detail})" if detail else ""
        super().__init__(f"{what} {identifier!r} not found{suffix}")
        self.what = what
        self.identifier = identifier


class ConcurrencyError(EskitError):
    """The stream is not at the version the writer expected; reload and decide again."""

    code = "concurrency_conflict"

    def __init__(self, stream_id: str, expected: object, actual: int | None = None) -> None:
        found = "" if actual is None else f", found version {actual}"
        super().__init__(f"stream {stream_id!r}: expected version {expected}{found}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class DomainError(EskitError):
    """A business rule refused the command. Services subclass it with a specific ``code``."""

    code = "domain_rule_broken"


class DuplicateEventError(EskitError):
    """An event id is already stored, but not as the same event of the same stream."""

    code = "duplicate_event"

    def __init__(self, event_id: str, detail: str) -> None:
        super().__init__(f"event id {event_id} is already stored: {detail}")
        self.event_id = event_id


class EventDecodingError(EskitError):
    """A stored event cannot be turned into a domain event."""

    code = "event_decoding_failed"


class UnknownEventTypeError(EventDecodingError):
    """No event class is registered for a stored event type."""

    code = "unknown_event_type"

    def __init__(self, event_type: str, position: int | None = None) -> None:
        where = "" if position is None else f" at global position {position}"
        super().__init__(f"unknown event type {event_type!r}{where}")
        self.event_type = event_type
        self.position = position


class EventSchemaError(EventDecodingError):
    """A stored event's schema version cannot be lifted to the current one, or its data is bad."""

    code = "event_schema_mismatch"

    def __init__(self, event_type: str, detail: str, position: int | None = None) -> None:
        where = "" if position is None else f" at global position {position}"
        super().__init__(f"event {event_type!r}{where}: {detail}")
        self.event_type = event_type
        self.position = position


class CorruptRecordError(EventDecodingError):
    """A record in a log is not one eskit wrote, or is damaged; ``where`` says where it is
    (a JetStream sequence, a Kafka partition and offset). Readers stop there: a record
    they cannot read is never skipped in silence."""

    code = "corrupt_record"

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where}: not an event eskit can read ({detail})")
        self.where = where
        self.detail = detail


class ConfigurationError(EskitError):
    """A setting is missing or unusable; the message names it."""

    code = "configuration_error"


class StoreUnavailableError(EskitError):
    """The event store could not be reached or failed below eskit; safe to retry later."""

    code = "store_unavailable"


class CheckpointMovedError(EskitError):
    """A subscription's checkpoint is no longer where this runner left it.

    Another runner (a second worker, a rebuild that swapped its tables in) committed first;
    this runner's batch was rolled back and it goes on from the new checkpoint.
    """

    code = "checkpoint_moved"

    def __init__(self, name: str, expected: int) -> None:
        super().__init__(f"checkpoint of {name!r} moved away from position {expected}")
        self.name = name
        self.expected = expected


class DocumentConflictError(EskitError):
    """A read-model document changed after it was read: the write was refused whole."""

    code = "document_conflict"

    def __init__(self, collection: str, ids: Sequence[str]) -> None:
        shown = ", ".join(ids[:5]) + (" …" if len(ids) > 5 else "")
        super().__init__(f"{collection}: documents changed concurrently: {shown}")
        self.collection = collection
        self.ids = list(ids)


class ProjectionNotFoundError(EskitError):
    """No projection of this name is registered."""

    code = "projection_not_found"

    def __init__(self, name: str, known: Sequence[str] = ()) -> None:
        hint = f" (known: {', '.join(known)})" if known else ""
        super().__init__(f"no projection named {name!r}{hint}")
        self.name = name


class NotCaughtUpError(EskitError):
    """A read model (or the log, or a stream) did not reach the asked position in time.

    ``subject`` says what was waited for: ``projection`` (the default), ``stream``, or
    ``the event store`` (whose ``name`` is then empty).
    """

    code = "not_caught_up"

    def __init__(
        self,
        name: str,
        wanted: int,
        reached: int,
        timeout_s: float,
        unit: str = "position",
        *,
        subject: str = "projection",
    ) -> None:
        who = f"{subject} {name!r}" if name else subject
        super().__init__(f"{who} reached {unit} {reached}, not {wanted}, within {timeout_s:g} s")
        self.subject = subject
        self.name = name
        self.unit = unit
        self.wanted = wanted
        self.reached = reached
        self.timeout_s = timeout_s


class UnauthorizedError(EskitError):
    """A call that needs credentials came without valid ones; nothing was done."""

    code = "unauthorized"


class PayloadTooLargeError(EskitError):
    """A request body is larger than the configured limit; it was not read further."""

    code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds the limit of {limit} bytes")
        self.limit = limit


class UnsupportedMediaTypeError(EskitError):
    """A request body whose content type is not JSON; nothing was read into a command."""

    code = "unsupported_media_type"

    def __init__(self, content_type: str | None) -> None:
        given = f"{content_type!r}" if content_type else "none"
        super().__init__(f"the body must be application/json; its content type is {given}")
        self.content_type = content_type


class MalformedJsonError(EskitError):
    """A request body that is not UTF-8, not JSON, or JSON nested too deep."""

    code = "malformed_json"


class IdempotencyKeyReusedError(EskitError):
    """An idempotency key came back with a different request than the one it first named."""

    code = "idempotency_key_reused"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"idempotency key {key!r} was first used for a different request; use a new key"
        )
        self.key = key


class SagaConflictError(EskitError):
    """A saga instance changed after it was read: the write was refused whole."""

    code = "saga_conflict"

    def __init__(self, saga: str, correlation_ids: Sequence[str]) -> None:
        shown = ", ".join(correlation_ids[:5]) + (" …" if len(correlation_ids) > 5 else "")
        super().__init__(f"saga {saga}: instances changed concurrently: {shown}")
        self.saga = saga
        self.correlation_ids = list(correlation_ids)


class UnknownCommandTypeError(EskitError):
    """A command names a type no handler is registered for."""

    code = "unknown_command_type"

    def __init__(self, command_type: str, known: Sequence[str]) -> None:
        super().__init__(
            f"unknown command type {command_type!r}; known types: {', '.join(sorted(known))}"
        )
        self.command_type = command_type
        self.known = sorted(known)


class QueueFullError(EskitError):
    """The command queue holds as many waiting commands as it may: try again later."""

    code = "queue_full"

    def __init__(self, waiting: int, limit: int, retry_after_s: float) -> None:
        super().__init__(
            f"the command queue is full ({waiting} commands waiting, limit {limit}); "
            f"retry after {retry_after_s:.0f} s"
        )
        self.waiting = waiting
        self.limit = limit
        self.retry_after_s = retry_after_s


class CommandNotFoundError(NotFoundError):
    """No queued command has this id."""

    code = "command_not_found"
