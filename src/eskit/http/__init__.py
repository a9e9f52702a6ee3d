"""HTTP integration (FastAPI): one error mapping, request ids, API keys, health, commands,
JSON bodies, the OpenAPI schema's headers and errors."""

from eskit.http.app import OPEN_PATHS, create_app
from eskit.http.commands import POSITION_HEADER, answer_command, send_command
from eskit.http.errors import (
    ERROR_DESCRIPTIONS,
    ERROR_RESPONSES,
    ErrorResponse,
    error_response,
    error_responses,
    status_for,
)
from eskit.http.health import health_router
from eskit.http.json_body import MAX_JSON_DEPTH, JsonBodyRoute
from eskit.http.openapi import command_route, query_route

__all__ = [
    "ERROR_DESCRIPTIONS",
    "ERROR_RESPONSES",
    "MAX_JSON_DEPTH",
    "OPEN_PATHS",
    "POSITION_HEADER",
    "ErrorResponse",
    "JsonBodyRoute",
    "answer_command",
    "command_route",
    "create_app",
    "error_response",
    "error_responses",
    "health_router",
    "query_route",
    "send_command",
    "status_for",
]
