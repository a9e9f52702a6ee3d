"""Sending a command from a gRPC call: the twin of :func:`eskit.http.send_command`.

The call's ``x-request-id`` becomes the events' correlation id and its API key's
fingerprint their actor. An ``idempotency-key`` makes the call safe to retry (see
:mod:`eskit.app.keys`): a retry answers the first outcome and changes nothing; the key sent
with a different request is refused (INVALID_ARGUMENT, ``idempotency_key_reused``). Keys
are scoped to the caller, the method and the target: the aggregate the command changes,
none for a command that makes a new one.
"""

from __future__ import annotations

from typing import Any

import grpc.aio

from eskit.app import CommandHandler, CommandResult
from eskit.app.keys import handle_with_key, idempotency_scope
from eskit.domain.commands import Command
from eskit.grpc.server import call_info

__all__ = ["send_command"]


async def send_command(
    context: grpc.aio.ServicerContext[Any, Any], handler: CommandHandler[Any], command: Command
) -> CommandResult:
    """Handle ``command`` on behalf of the call ``context``; its result.

    The method is registered with :func:`eskit.grpc.service_handler`, which tells the call
    its name. Raises what :meth:`CommandHandler.handle` raises, and InvalidCommandError or
    IdempotencyKeyReusedError for an unusable or reused key.
    """
    call = call_info(context)
    target = "" if handler.makes_new(command) else command.aggregate_id
    return await handle_with_key(
        handler,
        command,
        key=call.idempotency_key,
        scope=idempotency_scope(call.actor, call.method, target),
        metadata=call.metadata(),
    )
