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

import orjson
from fastapi import Request, Response

from eskit.app import CommandHandler, CommandResult
from eskit.app.keys import handle_with_key, idempotency_scope
from eskit.app.metadata import caller_metadata
from eskit.domain.commands import Command

__all__ = [
    "IDEMPOTENCY_HEADER",
    "POSITION_HEADER",
    "REPLAYED_HEADER",
    "answer_command",
    "send_command",
]

POSITION_HEADER = "ESKIT-Position"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


async def send_command(
    request: Request, response: Response, handler: CommandHandler[Any], command: Command
) -> CommandResult:
    """Handle ``command`` on behalf of ``request``, setting the answer's headers.

    The request id becomes the events' correlation id and the API key's fingerprint
    their actor; an ``Idempotency-Key`` is scoped to the caller, the method and the path.
    ``eskit.grpc.send_command`` is its twin for gRPC calls.
    """
    state = request.scope.get("state", {})
    actor = str(state.get("actor", ""))
    metadata = caller_metadata(str(state.get("request_id", "")), actor)
    key = request.headers.get(IDEMPOTENCY_HEADER)
    # the scope's path, not request.url.path: that builds a URL object per command
    scope = idempotency_scope(actor, request.method, request.scope["path"])
    result = await handle_with_key(handler, command, key=key, scope=scope, metadata=metadata)
    if key is not None and result.deduplicated:
        response.headers[REPLAYED_HEADER] = "true"
    response.headers[POSITION_HEADER] = str(result.position)
    return result


async def answer_command(
    request: Request, handler: CommandHandler[Any], command: Command, *, status_code: int = 200
) -> Response:
    """Handle ``command`` as :func:`send_command` does; answer ``{"id", "version"}`` as JSON.

    The answer is written at once rather than returned as a model for FastAPI to validate
    and serialize again (declare the shape with ``response_model`` for the docs): under
    load that second pass is a measurable part of a command's cost.
    """
    answer = Response(status_code=status_code, media_type="application/json")
    result = await send_command(request, answer, handler, command)
    answer.body = orjson.dumps({"id": result.aggregate_id, "version": result.version})
    answer.headers["content-length"] = str(len(answer.body))
    return answer
