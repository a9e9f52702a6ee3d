"""Commands: validated requests to change one aggregate."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eskit.domain.ids import new_id, uuid7
from eskit.errors import InvalidCommandError

__all__ = ["Command"]


class Command(BaseModel):
    """Base of commands, named in the imperative (``DepositMoney``).

    ``command_id`` makes handling idempotent: a command handled twice with the same id
    changes the store once and answers the first outcome both times. Supply it from the
    client (or an ``Idempotency-Key``) to make retries safe; otherwise a fresh UUIDv7 is used.
    ``aggregate_id`` names the target; creating commands default it to a new UUIDv7.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    command_id: uuid.UUID = Field(default_factory=uuid7)
    aggregate_id: str = Field(default_factory=new_id, min_length=1, max_length=200)

    @classmethod
    def parse(cls, data: Mapping[str, Any] | str | bytes) -> Self:
        """Validate raw input; raises InvalidCommandError listing every bad field."""
        try:
            if isinstance(data, str | bytes):
                return cls.model_validate_json(data)
            return cls.model_validate(data)
        except ValidationError as exc:
            errors = [
                {"loc": list(e["loc"]), "message": e["msg"], "type": e["type"]}
                for e in exc.errors()
            ]
            raise InvalidCommandError(cls.__name__, errors) from exc
