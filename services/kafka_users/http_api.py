"""The HTTP API: ``POST /`` with a typed JSON command, ``GET /users/{id}`` from the read model.

A command body names its type (``{"type": "CreateUserCommand", "first_name": ...}``): an
unknown type gets 422 listing the known ones, a missing or bad field 422 naming it, a body
that is not JSON 400, one over the size limit 413 (eskit's error shapes, see
``eskit.http``). A handled command answers ``{"id", "version"}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from eskit.errors import InvalidCommandError, NotFoundError
from eskit.http import JsonBodyRoute
from eskit.process.dispatch import CommandDispatcher
from kafka_users.read_model import UsersReadModel

__all__ = ["users_router"]


def users_router(commands: CommandDispatcher, users: UsersReadModel) -> APIRouter:
    """The routes of the service."""
    router = APIRouter(route_class=JsonBodyRoute)

    @router.post("/", status_code=200)
    async def send(body: dict[str, Any] = Body(...)) -> JSONResponse:  # noqa: B008
        """Handle the command the body names by its ``type``."""
        fields = dict(body)
        name = fields.pop("type", None)
        if not isinstance(name, str):
            raise InvalidCommandError(
                "command",
                [{"loc": ["type"], "message": "name the command type", "type": "missing"}],
            )
        command = commands.parse(name, fields)
        result = await commands.handle(command)
        status = 201 if commands.handler_of(command).makes_new(command) else 200
        return JSONResponse({"id": result.aggregate_id, "version": result.version}, status)

    @router.get("/users/{user_id}")
    async def get_user(user_id: str) -> dict[str, Any]:
        """The user as the read model has them (it may lag the commands a little)."""
        found = users.get(user_id)
        if found is None:
            raise NotFoundError("User", user_id)
        return found

    return router
