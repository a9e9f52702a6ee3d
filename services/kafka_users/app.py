"""The user commands, handled on a Kafka repository; one dispatcher for them by type name."""

from __future__ import annotations

from eskit.app import CommandHandler, CommandRepository
from eskit.process.dispatch import CommandDispatcher
from kafka_users.domain import (
    ChangeUserEmailCommand,
    CreateUserCommand,
    DeactivateUserCommand,
    RenameUserCommand,
    User,
)

__all__ = ["user_commands"]


def user_commands(repository: CommandRepository[User]) -> CommandDispatcher:
    """Every user command, by its type name, handled on ``repository``."""
    handler: CommandHandler[User] = CommandHandler(repository)

    @handler.creates(CreateUserCommand)
    def create(command: CreateUserCommand) -> User:
        return User.create(
            command.aggregate_id, command.first_name, command.last_name, command.email
        )

    @handler.updates(RenameUserCommand)
    def rename(user: User, command: RenameUserCommand) -> None:
        user.rename(command.first_name, command.last_name)

    @handler.updates(ChangeUserEmailCommand)
    def change_email(user: User, command: ChangeUserEmailCommand) -> None:
        user.change_email(command.email)

    @handler.updates(DeactivateUserCommand)
    def deactivate(user: User, command: DeactivateUserCommand) -> None:
        user.deactivate()

    return CommandDispatcher.of([handler])
