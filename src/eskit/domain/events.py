"""Domain events: immutable facts with a stable type name and a schema version."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

__all__ = ["Event"]


class Event(BaseModel):
    """Base of every domain event.

    Subclasses are frozen pydantic models named in the past tense. ``event_type`` is the
    name stored with the event (the class name unless set) and must never change once
    events of that type are stored; ``schema_version`` grows when the fields change, and
    upcasters lift older stored versions on read.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str] = "Event"
    schema_version: ClassVar[int] = 1

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "event_type" not in cls.__dict__:
            cls.event_type = cls.__name__
        if cls.schema_version < 1:
            raise TypeError(f"{cls.__name__}.schema_version must be >= 1")
