"""Serving gRPC methods with eskit's conventions: error mapping, API keys, request ids."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar

import grpc
import grpc.aio

from eskit.app.callers import ApiKeys, bearer_token, request_id_from
from eskit.app.metadata import EventMetadata, api_key_actor, caller_metadata
from eskit.errors import EskitError, InvalidCommandError, QueueFullError, UnauthorizedError
from eskit.grpc.errors import INTERNAL_ERROR, error_metadata, status_code_for
from eskit.logcontext import log_context
from eskit.observability.tracing import tracing_on

__all__ = [
    "CallInfo",
    "Message",
    "api_key_interceptor",
    "call_info",
    "create_server",
    "service_handler",
    "unary",
]

log = logging.getLogger(__name__)


class Message(Protocol):
    """What protobuf message classes offer that the server needs."""

    def SerializeToString(self) -> bytes: ...  # noqa: N802 - protobuf's name


Req = TypeVar("Req")
Resp = TypeVar("Resp", bound=Message)
Method = Callable[[Req, grpc.aio.ServicerContext[Any, Any]], Awaitable[Resp]]

_CALLED: ContextVar[str] = ContextVar("eskit_grpc_method", default="")
"""The full name of the method being called (``/package.Service/Method``), set by the
handlers :func:`service_handler` makes: grpc.aio does not tell a method its own name."""

_REQUEST_ID: ContextVar[str] = ContextVar("eskit_grpc_request_id", default="")
"""The request id of the call being served, set with :data:`_CALLED`: the one its log
records carry, and its :class:`CallInfo` answers."""


class CallInfo:
    """What a call's metadata says: its request id (``x-request-id`` if sane, else a new
    one: the same rule as HTTP's ``X-Request-ID``), its ``idempotency-key``, and the caller
    (a fingerprint of its API key, if any); and the method called (``/package.Service/
    Method``, "" unless it was registered with :func:`service_handler`)."""

    def __init__(
        self, metadata: Mapping[str, str], method: str = "", *, request_id: str = ""
    ) -> None:
        self.request_id = request_id or request_id_from(metadata.get("x-request-id", ""))
        self.idempotency_key = metadata.get("idempotency-key")
        token = bearer_token(metadata.get("authorization", ""))
        self.actor = api_key_actor(token) if token else ""
        self.method = method

    def metadata(self) -> EventMetadata:
        """Event metadata for commands of this call: correlation id and actor."""
        return caller_metadata(self.request_id, self.actor)


def call_info(context: grpc.aio.ServicerContext[Any, Any]) -> CallInfo:
    """The :class:`CallInfo` of a call, from its invocation metadata."""
    return CallInfo(_metadata_of(context), _CALLED.get(), request_id=_REQUEST_ID.get())


def _metadata_of(context: grpc.aio.ServicerContext[Any, Any]) -> dict[str, str]:
    pairs = context.invocation_metadata() or ()
    return {k: v for k, v in pairs if isinstance(v, str)}


def unary(
    method: Method[Req, Resp],
    parse: Callable[[bytes], Req],
) -> grpc.RpcMethodHandler[Req, Resp]:
    """A unary-unary handler for ``method``, with eskit errors mapped to status codes."""

    async def call(request: Req, context: grpc.aio.ServicerContext[Any, Any]) -> Resp:
        try:
            return await method(request, context)
        except grpc.aio.AbortError:
            raise  # the method ended the call itself
        except Exception as exc:
            code, message, trailers = _failure(exc)
            await context.abort(code, message, trailing_metadata=trailers)
            raise  # abort raises; this line is never reached

    return grpc.unary_unary_rpc_method_handler(
        call, request_deserializer=parse, response_serializer=_serialize
    )


def _failure(exc: Exception) -> tuple[grpc.StatusCode, str, tuple[tuple[str, str], ...]]:
    """How a call that raised ``exc`` ends: its status, message and trailing metadata."""
    code = status_code_for(exc) if isinstance(exc, EskitError) else grpc.StatusCode.INTERNAL
    if not isinstance(exc, EskitError) or code is grpc.StatusCode.INTERNAL:
        # as over HTTP: INTERNAL with a stable code, and nothing of the failure leaks
        log.exception("gRPC call failed unexpectedly", exc_info=exc)
        message = "internal error; see the server log"
        return grpc.StatusCode.INTERNAL, message, error_metadata(INTERNAL_ERROR, message)
    details = exc.errors if isinstance(exc, InvalidCommandError) else None
    trailers = error_metadata(exc.code, exc.message, details)
    if isinstance(exc, QueueFullError):  # as HTTP's Retry-After: when to try again
        trailers += (("retry-after", str(max(1, round(exc.retry_after_s)))),)
    return code, exc.message, trailers


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def service_handler(
    service: str, methods: Mapping[str, grpc.RpcMethodHandler[Any, Any]]
) -> grpc.GenericRpcHandler:
    """The handler of the service ``package.Service`` with ``methods`` by name.

    Each unary method learns its full name while it runs (``call_info(context).method``),
    which scopes the idempotency keys of :func:`eskit.grpc.send_command`; its request id
    (``call_info(context).request_id``) is in the log context while it runs.
    """
    named = {name: _named(handler, f"/{service}/{name}") for name, handler in methods.items()}
    return grpc.method_handlers_generic_handler(service, named)


def _named(
    handler: grpc.RpcMethodHandler[Any, Any], full_name: str
) -> grpc.RpcMethodHandler[Any, Any]:
    behaviour: Any = handler.unary_unary  # typed as sync; grpc.aio's are coroutine functions
    if behaviour is None or handler.request_streaming or handler.response_streaming:
        return handler  # only unary methods are named

    async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        request_id = request_id_from(_metadata_of(context).get("x-request-id", ""))
        token = _CALLED.set(full_name)
        id_token = _REQUEST_ID.set(request_id)
        try:
            with log_context(request_id=request_id):
                return await behaviour(request, context)
        finally:
            _REQUEST_ID.reset(id_token)
            _CALLED.reset(token)

    return grpc.unary_unary_rpc_method_handler(
        call,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class _ApiKeys(grpc.aio.ServerInterceptor):
    """Refuses calls without ``authorization: Bearer <key>`` metadata (UNAUTHENTICATED)."""

    def __init__(self, keys: Collection[str], open_services: Collection[str]) -> None:
        self._keys = ApiKeys(keys)
        self._open = tuple(f"/{name}/" for name in open_services)

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method = handler_call_details.method or ""
        if method.startswith(self._open) or self._allowed(handler_call_details):
            return await continuation(handler_call_details)
        return grpc.unary_unary_rpc_method_handler(_refuse)

    def _allowed(self, details: grpc.HandlerCallDetails) -> bool:
        given = ""
        for key, value in details.invocation_metadata or ():
            if key == "authorization" and isinstance(value, str):
                given = bearer_token(value)
        return self._keys.known(given)


async def _refuse(request: object, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    message = "a valid API key is required: authorization: Bearer <key>"
    trailers = error_metadata(UnauthorizedError.code, message)
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, message, trailing_metadata=trailers)


def api_key_interceptor(
    keys: Collection[str], open_services: Collection[str] = ()
) -> grpc.aio.ServerInterceptor:
    """An interceptor that lets through only calls carrying one of ``keys``."""
    return _ApiKeys(keys, open_services)


def create_server(
    handlers: Sequence[grpc.GenericRpcHandler],
    *,
    api_keys: Collection[str] = (),
    max_message_bytes: int = 2 * 1024 * 1024,
    share_port: bool = False,
) -> grpc.aio.Server:
    """A grpc.aio server for ``handlers``; add a port and start it.

    Messages over ``max_message_bytes`` are refused (RESOURCE_EXHAUSTED) by gRPC itself.
    Adding a port another socket listens on fails, unless ``share_port``: then server
    processes that all set it listen on one port together (SO_REUSEPORT).
    """
    interceptors = _tracing_interceptors()
    if api_keys:
        interceptors.append(api_key_interceptor(api_keys))
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes * 8),
            # gRPC sets SO_REUSEPORT unless told not to: a second server would then
            # quietly share the first one's port instead of failing to listen
            ("grpc.so_reuseport", 1 if share_port else 0),
        ],
    )
    server.add_generic_rpc_handlers(tuple(handlers))
    return server


def _tracing_interceptors() -> list[grpc.aio.ServerInterceptor]:
    """OpenTelemetry's server spans (outermost: a refused call is traced too), when tracing
    is on and ``eskit[otel]`` brought the instrumentation."""
    if not tracing_on():
        return []
    try:
        from opentelemetry.instrumentation.grpc import aio_server_interceptor
    except ImportError:
        log.warning("tracing is on but gRPC calls are not traced: pip install 'eskit[otel]'")
        return []
    interceptor: grpc.aio.ServerInterceptor = aio_server_interceptor()  # type: ignore[no-untyped-call]
    return [interceptor]
