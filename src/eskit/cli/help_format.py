"""Help pages that show a value type only beside options that take a value.

Typer's rich help prints each option's type in angle brackets, and it does so for flags
too (``--help <bool>``, ``--metadata --no-metadata <bool>``) although a flag takes no
value; click's plain help leaves the type out there. :func:`use_flag_aware_help` makes
every command and group of an app render its flags (and counting options) without one.
"""

from __future__ import annotations

import typer
from typer import _click  # typer's own copy of click, whose types its classes take
from typer.core import TyperCommand, TyperGroup, TyperOption
from typer.models import DefaultPlaceholder

__all__ = ["EskitCommand", "EskitGroup", "FlagOption", "use_flag_aware_help"]


class FlagOption(TyperOption):
    """An option that shows no value type in the help when it takes no value."""

    def display_type_rich(self, ctx: _click.Context) -> str | None:
        if self.is_flag or self.count:
            return None
        return super().display_type_rich(ctx)


def _flags_as_flags(command: TyperCommand | TyperGroup, ctx: _click.Context) -> None:
    # the help option and the completion options are added after the command is built
    # (the help option only when first asked for), so this runs when help is rendered
    for param in command.get_params(ctx):
        if type(param) is TyperOption and (param.is_flag or param.count):
            param.__class__ = FlagOption


class EskitCommand(TyperCommand):
    """A command whose help shows flags without a value type."""

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        _flags_as_flags(self, ctx)
        super().format_help(ctx, formatter)


class EskitGroup(TyperGroup):
    """A group of commands whose help shows flags without a value type."""

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        _flags_as_flags(self, ctx)
        super().format_help(ctx, formatter)


def use_flag_aware_help(app: typer.Typer) -> None:
    """Make ``app``, its commands and its sub-apps (all levels) build flag-aware commands.

    Call it once every command is registered. Commands and groups given a class of their
    own keep it.
    """
    if isinstance(app.info.cls, DefaultPlaceholder) or app.info.cls in (None, TyperGroup):
        app.info.cls = EskitGroup
    for command in app.registered_commands:
        if command.cls in (None, TyperCommand):
            command.cls = EskitCommand
    for group in app.registered_groups:
        if isinstance(group.cls, DefaultPlaceholder) or group.cls in (None, TyperGroup):
            group.cls = EskitGroup
        if group.typer_instance is not None:
            use_flag_aware_help(group.typer_instance)
