"""The bank-account HTTP API (``/api/v1/accounts``): request and answer shapes, routes.

Field names are camelCase on the wire; money is integer minor units. Every command answers
``{"id", "version"}`` with the position of its last event in ``ESKIT-Position``; queries
take ``minPosition`` to read their own writes. Errors are eskit's (see ``eskit.http``);
each route declares those it may answer. Command bodies are JSON, read by
``eskit.http.JsonBodyRoute``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from bank_accounts.app import BankAccounts
from bank_accounts.commands import (
    Address,
    Amount,
    ChangeEmail,
    Currency,
    DepositMoney,
    Email,
    OpenAccount,
    OpeningBalance,
    PaymentId,
    Status,
    Text,
    WithdrawMoney,
)
from bank_accounts.domain import (
    BalanceLimitError,
    InsufficientFundsError,
    PaymentConflictError,
)
from bank_accounts.projections import utc_timestamp
from bank_accounts.wire import (
    MAX_PAGE_SIZE,
    MAX_SEARCH_LENGTH,
    MOMENT_RULE,
    NUL_RULE,
    account_view,
    check_read_parameters,
    has_nul,
    page_view,
    within_utc_years,
)
from eskit.domain.commands import Command
from eskit.errors import ConflictingParametersError, NotCaughtUpError, NotFoundError
from eskit.http import JsonBodyRoute, answer_command, command_route, query_route
from eskit.store import StoredEvent

__all__ = ["accounts_router"]

INT64_MAX = 2**63 - 1
"""Versions and positions are 64-bit integers in every store: larger ones are refused."""

ApiEmail = Annotated[Email, Field(json_schema_extra={"format": "email"})]
"""An e-mail address, declared as one in the OpenAPI schema."""

AccountId = Annotated[
    str,
    Path(min_length=1, max_length=200, pattern=r"^[^\x00]*$", description="The account id"),
]
MinPosition = Annotated[
    int | None,
    Query(
        alias="minPosition",
        ge=0,
        le=INT64_MAX,
        description="Wait until the answer reflects this global position (ESKIT-Position).",
    ),
]


class ApiModel(BaseModel):
    """camelCase on the wire; unknown fields are refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ApiRequest(ApiModel):
    """A request body: no text in it has a NUL character (see ``wire``)."""

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if has_nul(value):
            raise ValueError(NUL_RULE)
        return value


class CreateAccount(ApiRequest):
    """A new account with its opening balance (minor units)."""

    email: ApiEmail
    address: Address
    first_name: Text
    last_name: Text
    balance: OpeningBalance
    currency: Currency = "USD"
    status: Status = "active"


class Payment(ApiRequest):
    """An amount (minor units, > 0) under a payment id that makes retries harmless."""

    amount: Amount
    payment_id: PaymentId


class NewEmail(ApiRequest):
    """The holder's new e-mail address."""

    email: ApiEmail


class CommandReply(ApiModel):
    """The account a command changed, and its version afterwards."""

    id: str
    version: int


class Money(ApiModel):
    """An amount in minor units of ``currency``."""

    amount: int
    currency: str


class Account(ApiModel):
    """An account as queries show it."""

    id: str
    email: str
    address: str
    first_name: str
    last_name: str
    balance: Money
    status: str
    version: int
    created_at: str = Field(description="ISO-8601, UTC")
    updated_at: str = Field(description="ISO-8601, UTC")


class AccountPage(ApiModel):
    """One page of accounts, sorted by balance ascending."""

    items: list[Account]
    page: int
    size: int
    total: int
    has_more: bool


class RecordedEvent(ApiModel):
    """One event of an account's history, as stored."""

    event_id: str
    type: str
    version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: str = Field(description="ISO-8601, UTC")


class ActivityItem(ApiModel):
    """One movement of an account's activity feed."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    type: str
    version: int
    at: str | None = None
    amount: int | None = None
    currency: str | None = None
    payment_id: str | None = None


def accounts_router(accounts: BankAccounts) -> APIRouter:
    """The routes of the service, over ``accounts``."""
    router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"], route_class=JsonBodyRoute)

    async def send(request: Request, command: Command, status_code: int = 200) -> Response:
        return await answer_command(request, accounts.handler, command, status_code=status_code)

    @router.post(
        "", response_model=CommandReply, **command_route(BalanceLimitError, status_code=201)
    )
    async def create_account(body: CreateAccount, request: Request) -> Response:
        """Open an account; answers its id and version 1."""
        return await send(request, OpenAccount(**body.model_dump()), 201)

    @router.post(
        "/{account_id}/deposit",
        response_model=CommandReply,
        **command_route(NotFoundError, PaymentConflictError, BalanceLimitError),
    )
    async def deposit(account_id: AccountId, body: Payment, request: Request) -> Response:
        """Pay money in. The same paymentId and amount again changes nothing."""
        return await send(request, DepositMoney(aggregate_id=account_id, **body.model_dump()))

    @router.post(
        "/{account_id}/withdraw",
        response_model=CommandReply,
        **command_route(NotFoundError, InsufficientFundsError, PaymentConflictError),
    )
    async def withdraw(account_id: AccountId, body: Payment, request: Request) -> Response:
        """Pay money out; 409 ``insufficient_funds`` if the balance is too small."""
        return await send(request, WithdrawMoney(aggregate_id=account_id, **body.model_dump()))

    @router.put("/{account_id}/email", response_model=CommandReply, **command_route(NotFoundError))
    async def change_email(account_id: AccountId, body: NewEmail, request: Request) -> Response:
        """Change the holder's e-mail address."""
        return await send(request, ChangeEmail(aggregate_id=account_id, email=body.email))

    @router.get(
        "/{account_id}",
        response_model=Account,
        **query_route(NotFoundError, ConflictingParametersError, NotCaughtUpError),
    )
    async def get_account(
        account_id: AccountId,
        min_position: MinPosition = None,
        from_event_store: Annotated[bool, Query(alias="fromEventStore")] = False,
        min_version: Annotated[int | None, Query(alias="minVersion", ge=1, le=INT64_MAX)] = None,
        at_version: Annotated[int | None, Query(alias="atVersion", ge=1, le=INT64_MAX)] = None,
        as_of: Annotated[
            AwareDatetime | None, Query(alias="asOf"), AfterValidator(_within_utc_years)
        ] = None,
    ) -> Account:
        """The account now, or as it was (``atVersion`` or ``asOf``).

        ``minVersion`` / ``minPosition`` wait for the read model to catch up (504
        ``not_caught_up`` past the bound); ``fromEventStore=true`` folds the events instead.
        ``atVersion`` and ``asOf`` exclude each other and both exclude ``minVersion`` and
        ``minPosition``: 422 ``conflicting_parameters``.
        """
        check_read_parameters(
            at_version=at_version,
            as_of=as_of,
            min_version=min_version,
            min_position=min_position,
            name=to_camel,
            location=("query",),
        )
        if at_version is not None or as_of is not None:
            doc = await accounts.queries.get_at(account_id, at_version=at_version, as_of=as_of)
        else:
            doc = await accounts.queries.get(
                account_id,
                source="events" if from_event_store else "read_model",
                min_version=min_version,
                at_least_position=min_position,
            )
        return Account.model_validate(account_view(doc))

    @router.get("", response_model=AccountPage, **query_route(NotCaughtUpError))
    async def search_accounts(
        search: Annotated[
            str, Query(max_length=MAX_SEARCH_LENGTH), AfterValidator(_without_nul)
        ] = "",
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 10,
        min_position: MinPosition = None,
    ) -> AccountPage:
        """Accounts whose owner's first or last name or e-mail address has words starting
        with each of the search words (``ann lee`` finds Ann Lee); the postal address is not
        searched. An empty search lists every account."""
        found = await accounts.queries.search(
            search,
            sort="balance",
            descending=False,
            limit=size,
            offset=(page - 1) * size,
            at_least_position=min_position,
        )
        return AccountPage.model_validate(page_view(found, page=page, size=size))

    @router.get(
        "/{account_id}/events",
        response_model=list[RecordedEvent],
        **query_route(NotFoundError, NotCaughtUpError),
    )
    async def account_events(
        account_id: AccountId, min_position: MinPosition = None
    ) -> list[RecordedEvent]:
        """Every event of the account, oldest first: its full audit history."""
        records = await accounts.queries.history(account_id, at_least_position=min_position)
        return [recorded_event(record) for record in records]

    @router.get(
        "/{account_id}/activity",
        response_model=list[ActivityItem],
        **query_route(NotFoundError),
    )
    async def account_activity(account_id: AccountId) -> list[ActivityItem]:
        """The account's latest movements, newest first (at most 50), built from the bus.

        Filled by the ``bank_accounts_activity`` consumer when ``ESKIT_BUS_URL`` names a
        broker; 404 ``not_found`` while the feed holds nothing for the account.
        """
        items = await accounts.queries.activity(account_id)
        return [ActivityItem.model_validate(item) for item in items]

    return router


def recorded_event(record: StoredEvent) -> RecordedEvent:
    """The API shape of a stored event."""
    return RecordedEvent(
        event_id=str(record.event_id),
        type=record.event_type,
        version=record.version,
        data=dict(record.data),
        metadata=dict(record.metadata),
        recorded_at=utc_timestamp(record.recorded_at),
    )


def _within_utc_years(moment: datetime | None) -> datetime | None:
    if moment is not None and not within_utc_years(moment):
        raise ValueError(MOMENT_RULE)
    return moment


def _without_nul(text: str) -> str:
    if has_nul(text):
        raise ValueError(NUL_RULE)
    return text
