"""Commands by type name: the one place that turns a queued or posted command back into a
typed command and hands it to the handler of its aggregate."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from eskit.app.handling import CommandHandler, CommandResult
from eskit.domain.commands import Command
from eskit.errors import UnknownCommandTypeError

__all__ = ["CommandDispatcher", "command_type_name"]


def command_type_name(command_type: type[Command]) -> str:
    """The name a command type is queued and posted under: its class name."""
    return command_type.__name__


class CommandDispatcher:
    """Routes each command type to the :class:`~eskit.app.CommandHandler` that has a
    function for it.

    ``CommandDispatcher({OpenAccount: accounts, PutInvoiceForSale: invoices})`` or
    :meth:`of` to read the routes from the handlers themselves. Type names must be unique.
    """

    def __init__(self, routes: Mapping[type[Command], CommandHandler[Any]]) -> None:
        self._types: dict[str, type[Command]] = {}
        self._handlers: dict[type[Command], CommandHandler[Any]] = dict(routes)
        for command_type in routes:
            name = command_type_name(command_type)
            if name in self._types and self._types[name] is not command_type:
                raise ValueError(f"two command types are named {name}")
            self._types[name] = command_type

    @classmethod
    def of(cls, handlers: Iterable[CommandHandler[Any]]) -> CommandDispatcher:
        """A dispatcher for every command type the ``handlers`` have a function for."""
        routes: dict[type[Command], CommandHandler[Any]] = {}
        for handler in handlers:
            for command_type in handler.command_types:
                if command_type in routes:
                    raise ValueError(f"{command_type.__name__} has two handlers")
                routes[command_type] = handler
        return cls(routes)

    @property
    def type_names(self) -> list[str]:
        """Every command type name this dispatcher knows, sorted."""
        return sorted(self._types)

    @property
    def handlers(self) -> list[CommandHandler[Any]]:
        """Every handler this dispatcher routes to, once each."""
        return list({id(h): h for h in self._handlers.values()}.values())

    def command_type(self, name: str) -> type[Command]:
        """The command class named ``name``; UnknownCommandTypeError listing the known ones."""
        found = self._types.get(name)
        if found is None:
            raise UnknownCommandTypeError(name, list(self._types))
        return found

    def parse(self, name: str, data: Mapping[str, Any] | str | bytes) -> Command:
        """The command of type ``name`` from raw input.

        Raises UnknownCommandTypeError for a name no handler knows, InvalidCommandError
        listing every bad field.
        """
        return self.command_type(name).parse(data)

    def handler_of(self, command: Command) -> CommandHandler[Any]:
        """The handler of ``command``'s type; UnknownCommandTypeError if none."""
        handler = self._handlers.get(type(command))
        if handler is None:
            raise UnknownCommandTypeError(command_type_name(type(command)), list(self._types))
        return handler

    async def handle(
        self, command: Command, metadata: Mapping[str, Any] | None = None, *, replay: bool = False
    ) -> CommandResult:
        """Handle ``command`` with its aggregate's handler (see CommandHandler.handle)."""
        return await self.handler_of(command).handle(command, metadata, replay=replay)
