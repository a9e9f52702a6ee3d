"""HTTP integration (FastAPI): one error mapping, request ids, API keys, health, commands."""

from eskit.http.app import OPEN_PATHS, create_app
from eskit.http.commands import POSITION_HEADER, answer_command, send_command
from eskit.http.errors import ERROR_RESPONSES, ErrorResponse, error_response, status_for
from eskit.http.health import health_router

__all__ = [
    "ERROR_RESPONSES",
    "OPEN_PATHS",
    "POSITION_HEADER",
    "ErrorResponse",
    "answer_command",
    "create_app",
    "error_response",
    "health_router",
    "send_command",
    "status_for",
]
