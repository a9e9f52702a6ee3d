"""Idempotency keys: a client's name for one request, making its retries harmless.

The command's id is derived from the key and its scope (:func:`idempotency_scope`: the
caller, the method called and its target, built the same way by every edge), so a retry
is recognised by the command handler and answered
with the first outcome, changing nothing. A fingerprint of the request (command type and
fields, not the fresh ids) is kept with that outcome (in the events' metadata, or in the
store's command outcomes when the command decided to record nothing, such as a repeated
payment): the key sent again with a different request is refused with
IdempotencyKeyReusedError. A refused command changed nothing and left nothing to replay:
retried with the same key, it is decided again.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from eskit.app.handling import CommandHandler, CommandResult
from eskit.domain.commands import Command
from eskit.errors import IdempotencyKeyReusedError, InvalidCommandError

__all__ = ["MAX_KEY_LENGTH", "handle_with_key", "idempotency_scope"]

MAX_KEY_LENGTH = 255
_NAMESPACE = uuid.UUID("6f1d2a52-5e0b-4c1e-9f3a-0c1b7a9e4d11")


def idempotency_scope(caller: str, method: str, target: str) -> str:
    """Where an idempotency key names one request: the caller, the method, the target.

    ``caller`` is who asks (an API key's fingerprint, "" when keys are off); ``method`` what
    is called (``POST``, ``/package.Service/Method``); ``target`` what it is called on (a
    path, an aggregate id, "" for a command that makes a new aggregate). The same key in
    another scope names another request.
    """
    return f"{caller}\n{method}\n{target}"


async def handle_with_key(
    handler: CommandHandler[Any],
    command: Command,
    *,
    key: str | None,
    scope: str,
    metadata: Mapping[str, Any] | None = None,
) -> CommandResult:
    """Handle ``command``; with a ``key``, at most once per (``scope``, key).

    Raises InvalidCommandError for a key that is empty or longer than 255 characters and
    IdempotencyKeyReusedError for a key first used with another request.
    """
    if key is None:
        return await handler.handle(command, metadata)
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidCommandError(
            "request", [{"loc": ["idempotency-key"], "message": "1 to 255 characters"}]
        )
    command = command.model_copy(update={"command_id": uuid.uuid5(_NAMESPACE, f"{scope}\n{key}")})
    fingerprint = _fingerprint(command, scope)
    result = await handler.handle(command, metadata, fingerprint=fingerprint)
    if result.deduplicated and result.fingerprint != fingerprint:
        raise IdempotencyKeyReusedError(key)
    return result


def _fingerprint(command: Command, scope: str) -> str:
    fields = command.model_dump_json(exclude={"command_id", "aggregate_id"})
    text = f"{scope}\n{type(command).__name__}\n{fields}"
    return hashlib.sha256(text.encode()).hexdigest()
