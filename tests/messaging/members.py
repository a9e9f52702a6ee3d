"""A small domain for the Kafka repository's tests: members who join, rename and leave."""

from __future__ import annotations

from eskit.app import CommandHandler, CommandRepository
from eskit.domain import Aggregate, Command, Event, applies
from eskit.errors import DomainError

__all__ = ["Join", "Joined", "Leave", "Left", "Member", "Rename", "Renamed", "member_handler"]


class Joined(Event):
    name: str


class Renamed(Event):
    name: str


class Left(Event):
    pass


class MemberGoneError(DomainError):
    """The member has left: nothing more can change."""

    code = "member_gone"


class Member(Aggregate):
    name: str = ""
    renames: int = 0
    active: bool = False

    @applies(Joined)
    def _joined(self, event: Joined) -> None:
        self.name = event.name
        self.active = True

    @applies(Renamed)
    def _renamed(self, event: Renamed) -> None:
        self.name = event.name
        self.renames += 1

    @applies(Left)
    def _left(self, event: Left) -> None:
        self.active = False

    def rename(self, name: str) -> None:
        if not self.active:
            raise MemberGoneError(f"member {self.id} has left")
        if name != self.name:
            self.record(Renamed(name=name))

    def leave(self) -> None:
        if self.active:
            self.record(Left())


class Join(Command):
    name: str


class Rename(Command):
    name: str


class Leave(Command):
    pass


def member_handler(repository: CommandRepository[Member]) -> CommandHandler[Member]:
    """Commands of members, on ``repository``."""
    handler: CommandHandler[Member] = CommandHandler(repository)

    @handler.creates(Join)
    def join(command: Join) -> Member:
        member = Member(id=command.aggregate_id)
        member.record(Joined(name=command.name))
        return member

    @handler.updates(Rename)
    def rename(member: Member, command: Rename) -> None:
        member.rename(command.name)

    @handler.updates(Leave)
    def leave(member: Member, command: Leave) -> None:
        member.leave()

    return handler
