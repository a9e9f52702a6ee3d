from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateAccountRequest(_message.Message):
    __slots__ = ("email", "address", "first_name", "last_name", "balance", "currency", "status")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    email: str
    address: str
    first_name: str
    last_name: str
    balance: int
    currency: str
    status: str
    def __init__(self, email: _Optional[str] = ..., address: _Optional[str] = ..., first_name: _Optional[str] = ..., last_name: _Optional[str] = ..., balance: _Optional[int] = ..., currency: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class PaymentRequest(_message.Message):
    __slots__ = ("id", "amount", "payment_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    amount: int
    payment_id: str
    def __init__(self, id: _Optional[str] = ..., amount: _Optional[int] = ..., payment_id: _Optional[str] = ...) -> None: ...

class ChangeEmailRequest(_message.Message):
    __slots__ = ("id", "email")
    ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    id: str
    email: str
    def __init__(self, id: _Optional[str] = ..., email: _Optional[str] = ...) -> None: ...

class CommandReply(_message.Message):
    __slots__ = ("id", "version", "position")
    ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    id: str
    version: int
    position: int
    def __init__(self, id: _Optional[str] = ..., version: _Optional[int] = ..., position: _Optional[int] = ...) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ("id", "from_event_store", "min_version", "min_position", "at_version", "as_of")
    ID_FIELD_NUMBER: _ClassVar[int]
    FROM_EVENT_STORE_FIELD_NUMBER: _ClassVar[int]
    MIN_VERSION_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    AT_VERSION_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    id: str
    from_event_store: bool
    min_version: int
    min_position: int
    at_version: int
    as_of: str
    def __init__(self, id: _Optional[str] = ..., from_event_store: _Optional[bool] = ..., min_version: _Optional[int] = ..., min_position: _Optional[int] = ..., at_version: _Optional[int] = ..., as_of: _Optional[str] = ...) -> None: ...

class Money(_message.Message):
    __slots__ = ("amount", "currency")
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    amount: int
    currency: str
    def __init__(self, amount: _Optional[int] = ..., currency: _Optional[str] = ...) -> None: ...

class Account(_message.Message):
    __slots__ = ("id", "email", "address", "first_name", "last_name", "balance", "status", "version", "created_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    email: str
    address: str
    first_name: str
    last_name: str
    balance: Money
    status: str
    version: int
    created_at: str
    updated_at: str
    def __init__(self, id: _Optional[str] = ..., email: _Optional[str] = ..., address: _Optional[str] = ..., first_name: _Optional[str] = ..., last_name: _Optional[str] = ..., balance: _Optional[_Union[Money, _Mapping]] = ..., status: _Optional[str] = ..., version: _Optional[int] = ..., created_at: _Optional[str] = ..., updated_at: _Optional[str] = ...) -> None: ...

class SearchAccountsRequest(_message.Message):
    __slots__ = ("search", "page", "size", "min_position")
    SEARCH_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    search: str
    page: int
    size: int
    min_position: int
    def __init__(self, search: _Optional[str] = ..., page: _Optional[int] = ..., size: _Optional[int] = ..., min_position: _Optional[int] = ...) -> None: ...

class AccountPage(_message.Message):
    __slots__ = ("items", "page", "size", "total", "has_more")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Account]
    page: int
    size: int
    total: int
    has_more: bool
    def __init__(self, items: _Optional[_Iterable[_Union[Account, _Mapping]]] = ..., page: _Optional[int] = ..., size: _Optional[int] = ..., total: _Optional[int] = ..., has_more: _Optional[bool] = ...) -> None: ...
