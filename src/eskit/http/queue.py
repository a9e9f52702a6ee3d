"""The command queue over HTTP: ``202 Accepted`` with a status URL, and that status.

A service's route builds its command and answers :func:`accept_command`; the router of
:func:`command_queue_router` adds ``GET /commands/{id}`` (the outcome) and ``POST
/commands`` (any known command by its ``"type"``). A full queue answers 429 with
``Retry-After``; a malformed or unknown command is refused before anything is queued.
``Idempotency-Key`` makes a submission safe to retry: the same key queues the command once
and answers the same command id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Path, Request, Response
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from eskit.app.keys import idempotency_scope
from eskit.app.metadata import caller_metadata
from eskit.domain.commands import Command
from eskit.errors import (
    CommandNotFoundError,
    IdempotencyKeyReusedError,
    InvalidCommandError,
    MalformedJsonError,
    QueueFullError,
    UnknownCommandTypeError,
)
from eskit.http.commands import IDEMPOTENCY_HEADER
from eskit.http.errors import error_responses
from eskit.http.json_body import JsonBodyRoute
from eskit.process.dispatch import command_type_name
from eskit.process.queue import CommandQueue
from eskit.store.queue import QueuedCommand

__all__ = [
    "AcceptedAnswer",
    "CommandStatusAnswer",
    "accept_command",
    "command_queue_router",
    "status_answer",
]

_NAMESPACE = uuid.UUID("0b6c3f0e-2f4e-4d55-8c1f-5e2a7d9b3c41")
MAX_KEY_LENGTH = 255


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class AcceptedAnswer(_Wire):
    """A queued command: its id, the aggregate it targets, and where to ask how it went."""

    command_id: uuid.UUID
    aggregate_id: str
    type: str
    status: str = "queued"
    status_url: str


class CommandStatusAnswer(_Wire):
    """A queued command's status, and its outcome once final (``done``: ``version`` and
    ``position``; ``refused`` or ``dead``: ``error``)."""

    command_id: uuid.UUID
    type: str
    status: str
    attempts: int
    enqueued_at: datetime
    updated_at: datetime | None = None
    aggregate_id: str | None = None
    version: int | None = None
    position: int | None = None
    error: dict[str, Any] | None = None
    last_error: str | None = None


ACCEPT_RESPONSES = error_responses(
    MalformedJsonError, InvalidCommandError, UnknownCommandTypeError, QueueFullError
)
"""OpenAPI ``responses`` of a route that queues a command."""


async def accept_command(
    request: Request,
    queue: CommandQueue,
    command: Command,
    *,
    prefix: str = "",
    public_id: Callable[[str], str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """Queue ``command`` for ``request`` and answer 202 with its status URL (``Location``).

    The request id becomes the correlation id of what the command causes, the API key's
    fingerprint its actor. ``public_id`` turns the aggregate id into the one clients know the
    aggregate by, where they differ; ``extra`` adds fields to the answer. Raises
    QueueFullError (429) when the queue is full.
    """
    state = request.scope.get("state", {})
    actor = str(state.get("actor", ""))
    metadata = caller_metadata(str(state.get("request_id", "")), actor)
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None:
        if not 1 <= len(key) <= MAX_KEY_LENGTH:
            raise InvalidCommandError(
                "request", [{"loc": ["idempotency-key"], "message": "1 to 255 characters"}]
            )
        scope = idempotency_scope(actor, request.method, request.scope["path"])
        command_id = uuid.uuid5(_NAMESPACE, f"{scope}\n{key}")
        command = command.model_copy(update={"command_id": command_id})
    try:
        receipt = await queue.submit(command, metadata)
    except IdempotencyKeyReusedError:
        if key is None:
            raise
        raise IdempotencyKeyReusedError(key) from None  # name the key the client sent
    url = f"{prefix}/commands/{receipt.command_id}"
    body = AcceptedAnswer(
        command_id=receipt.command_id,
        aggregate_id=public_id(receipt.aggregate_id) if public_id else receipt.aggregate_id,
        type=receipt.command_type,
        status_url=url,
    )
    return Response(
        orjson.dumps(body.model_dump(mode="json", by_alias=True) | (extra or {})),
        status_code=202,
        media_type="application/json",
        headers={"Location": url},
    )


def status_answer(
    queued: QueuedCommand, *, public_id: Callable[[str], str] | None = None
) -> CommandStatusAnswer:
    """The wire shape of ``queued`` (its aggregate id through ``public_id``, if given)."""
    outcome = queued.outcome or {}
    aggregate_id = outcome.get("aggregate_id") or orjson.loads(queued.payload).get("aggregate_id")
    if aggregate_id is not None and public_id is not None:
        aggregate_id = public_id(str(aggregate_id))
    return CommandStatusAnswer(
        command_id=queued.id,
        type=queued.command_type,
        status=queued.status,
        attempts=queued.attempts,
        enqueued_at=queued.enqueued_at,
        updated_at=queued.updated_at,
        aggregate_id=aggregate_id,
        version=outcome.get("version"),
        position=outcome.get("position"),
        error=outcome.get("error"),
        last_error=queued.error,
    )


def command_queue_router(
    queue: CommandQueue,
    *,
    prefix: str = "",
    submittable: Collection[type[Command]] = (),
    public_id: Callable[[str], str] | None = None,
) -> APIRouter:
    """``GET {prefix}/commands/{id}`` over ``queue``, and ``POST {prefix}/commands`` for the
    command types in ``submittable`` (left out when there are none).

    Only the commands clients may send belong in ``submittable``: those a saga or a
    consumer issues (finance this invoice, commit these funds) must not be queued by anyone
    who can reach the API. ``public_id`` turns aggregate ids into those clients know.
    """
    allowed = {command_type_name(t): t for t in submittable}
    router = APIRouter(prefix=prefix, tags=["commands"], route_class=JsonBodyRoute)

    @router.get(
        "/commands/{command_id}",
        response_model=CommandStatusAnswer,
        response_model_by_alias=True,
        responses=error_responses(CommandNotFoundError, InvalidCommandError),
        summary="How a queued command went",
    )
    async def command_status(
        command_id: Annotated[uuid.UUID, Path(description="The id the queue answered")],
    ) -> CommandStatusAnswer:
        return status_answer(await queue.status(command_id), public_id=public_id)

    if not allowed:
        return router

    @router.post(
        "/commands",
        status_code=202,
        response_model=AcceptedAnswer,
        responses=ACCEPT_RESPONSES,
        summary="Queue any known command by its type",
    )
    async def submit(
        request: Request,
        body: Annotated[
            dict[str, Any],
            Body(description='The command\'s fields and its "type": {"type": "DepositFunds", …}'),
        ],
    ) -> Response:
        fields = dict(body)
        command_type = fields.pop("type", None)
        if not isinstance(command_type, str):
            raise InvalidCommandError(
                "command", [{"loc": ["body", "type"], "message": "a command type name is required"}]
            )
        if command_type not in allowed:
            raise UnknownCommandTypeError(command_type, list(allowed))
        command = allowed[command_type].parse(fields)
        return await accept_command(request, queue, command, prefix=prefix, public_id=public_id)

    return router
