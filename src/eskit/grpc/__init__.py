"""gRPC integration (grpc.aio): one error mapping, API keys, request ids, commands."""

from eskit.grpc.commands import send_command
from eskit.grpc.errors import ERROR_CODE_KEY, ERROR_DETAILS_KEY, status_code_for, status_code_of
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
    "ERROR_DETAILS_KEY",
    "CallInfo",
    "api_key_interceptor",
    "call_info",
    "create_server",
    "send_command",
    "service_handler",
    "status_code_for",
    "status_code_of",
    "unary",
]
