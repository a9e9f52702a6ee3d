"""Users: created with a name and an e-mail address, renamed, re-addressed, deactivated."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from eskit.domain import Aggregate, Command, Event, applies
from eskit.errors import DomainError

__all__ = [
    "ChangeUserEmailCommand",
    "CreateUserCommand",
    "DeactivateUserCommand",
    "RenameUserCommand",
    "User",
    "UserCreated",
    "UserDeactivated",
    "UserDeactivatedError",
    "UserEmailChanged",
    "UserRenamed",
]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)]


class UserCreated(Event):
    first_name: str
    last_name: str
    email: str


class UserRenamed(Event):
    first_name: str
    last_name: str


class UserEmailChanged(Event):
    email: str


class UserDeactivated(Event):
    pass


class UserDeactivatedError(DomainError):
    """The user is deactivated: nothing about them changes any more."""

    code = "user_deactivated"


class User(Aggregate):
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    active: bool = False

    @classmethod
    def create(cls, user_id: str, first_name: str, last_name: str, email: str) -> User:
        user = cls(id=user_id)
        user.record(UserCreated(first_name=first_name, last_name=last_name, email=email))
        return user

    def rename(self, first_name: str, last_name: str) -> None:
        self._check_active()
        if (first_name, last_name) != (self.first_name, self.last_name):
            self.record(UserRenamed(first_name=first_name, last_name=last_name))

    def change_email(self, email: str) -> None:
        self._check_active()
        if email != self.email:
            self.record(UserEmailChanged(email=email))

    def deactivate(self) -> None:
        if self.active:
            self.record(UserDeactivated())

    def _check_active(self) -> None:
        if not self.active:
            raise UserDeactivatedError(f"user {self.id} is deactivated")

    @applies(UserCreated)
    def _created(self, event: UserCreated) -> None:
        self.first_name, self.last_name, self.email = event.first_name, event.last_name, event.email
        self.active = True

    @applies(UserRenamed)
    def _renamed(self, event: UserRenamed) -> None:
        self.first_name, self.last_name = event.first_name, event.last_name

    @applies(UserEmailChanged)
    def _email_changed(self, event: UserEmailChanged) -> None:
        self.email = event.email

    @applies(UserDeactivated)
    def _deactivated(self, event: UserDeactivated) -> None:
        self.active = False


class CreateUserCommand(Command):
    first_name: Name
    last_name: Name
    email: Email


class RenameUserCommand(Command):
    aggregate_id: str = Field(alias="id", min_length=1, max_length=200)
    first_name: Name
    last_name: Name


class ChangeUserEmailCommand(Command):
    aggregate_id: str = Field(alias="id", min_length=1, max_length=200)
    email: Email


class DeactivateUserCommand(Command):
    aggregate_id: str = Field(alias="id", min_length=1, max_length=200)
