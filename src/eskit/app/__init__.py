"""The application layer: repository, command handling, metadata."""

from eskit.app.command_repository import CommandRepository
from eskit.app.handling import CommandHandler, CommandResult
from eskit.app.metadata import EventMetadata, command_metadata
from eskit.app.repository import HistoryEntry, Repository

__all__ = [
    "CommandHandler",
    "CommandRepository",
    "CommandResult",
    "EventMetadata",
    "HistoryEntry",
    "Repository",
    "command_metadata",
]
