"""Sending a command from an HTTP request: metadata, idempotency keys, the position header.

``Idempotency-Key: <key>`` makes a request safe to retry (see :mod:`eskit.app.keys`): a
retry answers the first outcome, changes nothing, and says so with
``Idempotent-Replayed: true``; the key sent with a different request gets 422
(``idempotency_key_reused``). Keys are scoped to the caller, the method and the path.

Every answer to a command carries ``ESKIT-Position``: the global position of its last
event, a consistency token any query takes back as ``minPosition``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from eskit.app import CommandHandler, CommandResult
from eskit.app.keys import handle_with_key
from eskit.domain.commands import Command

__all__ = ["IDEMPOTENCY_HEADER", "POSITION_HEADER", "REPLAYED_HEADER", "send_command"]

POSITION_HEADER = "ESKIT-Position"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


async def send_command(
    request: Request, response: Response, handler: CommandHandler[Any], command: Command
) -> CommandResult:
    """Handle ``command`` on behalf of ``request``, setting the answer's headers.

    The request id becomes the events' correlation id and the API key's fingerprint
    their actor.
    """
    state = request.scope.get("state", {})
    metadata: dict[str, Any] = {"correlation_id": str(state.get("request_id", ""))}
    actor = str(state.get("actor", ""))
    if actor:
        metadata["actor"] = actor
    key = request.headers.get(IDEMPOTENCY_HEADER)
    scope = f"{actor}\n{request.method}\n{request.url.path}"
    result = await handle_with_key(handler, command, key=key, scope=scope, metadata=metadata)
    if key is not None and result.deduplicated:
        response.headers[REPLAYED_HEADER] = "true"
    response.headers[POSITION_HEADER] = str(result.position)
    return result
