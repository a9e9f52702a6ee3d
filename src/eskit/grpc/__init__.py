"""gRPC integration (grpc.aio): one error mapping, API keys, request ids, commands."""

from eskit.grpc.commands import send_command
from eskit.grpc.errors import ERROR_CODE_KEY, status_code_for
from eskit.grpc.server import (
    CallInfo,
    api_key_interceptor,
    call_info,
    create_server,
    service_handler,
    unary,
)

__all__ = [
    "ERROR_CODE_KEY",
    "CallInfo",
    "api_key_interceptor",
    "call_info",
    "create_server",
    "send_command",
    "service_handler",
    "status_code_for",
    "unary",
]
