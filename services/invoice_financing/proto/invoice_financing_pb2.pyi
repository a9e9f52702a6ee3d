from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Money(_message.Message):
    __slots__ = ("amount", "currency")
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    amount: int
    currency: str
    def __init__(self, amount: _Optional[int] = ..., currency: _Optional[str] = ...) -> None: ...

class RegisterIssuerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RegisterInvestorRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DepositFundsRequest(_message.Message):
    __slots__ = ("investor_id", "amount")
    INVESTOR_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    investor_id: str
    amount: Money
    def __init__(self, investor_id: _Optional[str] = ..., amount: _Optional[_Union[Money, _Mapping]] = ...) -> None: ...

class WithdrawFundsRequest(_message.Message):
    __slots__ = ("investor_id", "amount")
    INVESTOR_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    investor_id: str
    amount: Money
    def __init__(self, investor_id: _Optional[str] = ..., amount: _Optional[_Union[Money, _Mapping]] = ...) -> None: ...

class PutInvoiceForSaleRequest(_message.Message):
    __slots__ = ("issuer_id", "amount", "due_date")
    ISSUER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DUE_DATE_FIELD_NUMBER: _ClassVar[int]
    issuer_id: str
    amount: Money
    due_date: str
    def __init__(self, issuer_id: _Optional[str] = ..., amount: _Optional[_Union[Money, _Mapping]] = ..., due_date: _Optional[str] = ...) -> None: ...

class BidOnInvoiceRequest(_message.Message):
    __slots__ = ("investor_id", "invoice_id", "amount", "bid_id")
    INVESTOR_ID_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    BID_ID_FIELD_NUMBER: _ClassVar[int]
    investor_id: str
    invoice_id: str
    amount: Money
    bid_id: str
    def __init__(self, investor_id: _Optional[str] = ..., invoice_id: _Optional[str] = ..., amount: _Optional[_Union[Money, _Mapping]] = ..., bid_id: _Optional[str] = ...) -> None: ...

class CommandAccepted(_message.Message):
    __slots__ = ("command_id", "aggregate_id", "status_url")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_URL_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    aggregate_id: str
    status_url: str
    def __init__(self, command_id: _Optional[str] = ..., aggregate_id: _Optional[str] = ..., status_url: _Optional[str] = ...) -> None: ...

class GetCommandRequest(_message.Message):
    __slots__ = ("command_id",)
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    def __init__(self, command_id: _Optional[str] = ...) -> None: ...

class CommandStatus(_message.Message):
    __slots__ = ("command_id", "status", "attempts", "aggregate_id", "version", "position", "error_code", "error_message")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    status: str
    attempts: int
    aggregate_id: str
    version: int
    position: int
    error_code: str
    error_message: str
    def __init__(self, command_id: _Optional[str] = ..., status: _Optional[str] = ..., attempts: _Optional[int] = ..., aggregate_id: _Optional[str] = ..., version: _Optional[int] = ..., position: _Optional[int] = ..., error_code: _Optional[str] = ..., error_message: _Optional[str] = ...) -> None: ...

class GetInvoiceRequest(_message.Message):
    __slots__ = ("id", "min_position")
    ID_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    id: str
    min_position: int
    def __init__(self, id: _Optional[str] = ..., min_position: _Optional[int] = ...) -> None: ...

class ListInvoicesRequest(_message.Message):
    __slots__ = ("status", "issuer_id", "page", "size", "min_position")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ISSUER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    status: str
    issuer_id: str
    page: int
    size: int
    min_position: int
    def __init__(self, status: _Optional[str] = ..., issuer_id: _Optional[str] = ..., page: _Optional[int] = ..., size: _Optional[int] = ..., min_position: _Optional[int] = ...) -> None: ...

class Invoice(_message.Message):
    __slots__ = ("id", "issuer_id", "amount", "due_date", "status", "investor_id", "bid_id", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    ISSUER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DUE_DATE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    INVESTOR_ID_FIELD_NUMBER: _ClassVar[int]
    BID_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    issuer_id: str
    amount: Money
    due_date: str
    status: str
    investor_id: str
    bid_id: str
    updated_at: str
    def __init__(self, id: _Optional[str] = ..., issuer_id: _Optional[str] = ..., amount: _Optional[_Union[Money, _Mapping]] = ..., due_date: _Optional[str] = ..., status: _Optional[str] = ..., investor_id: _Optional[str] = ..., bid_id: _Optional[str] = ..., updated_at: _Optional[str] = ...) -> None: ...

class InvoicePage(_message.Message):
    __slots__ = ("items", "page", "size", "total", "has_more")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Invoice]
    page: int
    size: int
    total: int
    has_more: bool
    def __init__(self, items: _Optional[_Iterable[_Union[Invoice, _Mapping]]] = ..., page: _Optional[int] = ..., size: _Optional[int] = ..., total: _Optional[int] = ..., has_more: _Optional[bool] = ...) -> None: ...

class GetInvestorRequest(_message.Message):
    __slots__ = ("id", "min_position")
    ID_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    id: str
    min_position: int
    def __init__(self, id: _Optional[str] = ..., min_position: _Optional[int] = ...) -> None: ...

class ListInvestorsRequest(_message.Message):
    __slots__ = ("page", "size", "min_position")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    page: int
    size: int
    min_position: int
    def __init__(self, page: _Optional[int] = ..., size: _Optional[int] = ..., min_position: _Optional[int] = ...) -> None: ...

class Investor(_message.Message):
    __slots__ = ("id", "name", "currency", "available", "reserved", "financed")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    FINANCED_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    currency: str
    available: int
    reserved: int
    financed: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., currency: _Optional[str] = ..., available: _Optional[int] = ..., reserved: _Optional[int] = ..., financed: _Optional[int] = ...) -> None: ...

class InvestorPage(_message.Message):
    __slots__ = ("items", "page", "size", "total", "has_more")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Investor]
    page: int
    size: int
    total: int
    has_more: bool
    def __init__(self, items: _Optional[_Iterable[_Union[Investor, _Mapping]]] = ..., page: _Optional[int] = ..., size: _Optional[int] = ..., total: _Optional[int] = ..., has_more: _Optional[bool] = ...) -> None: ...

class GetBidRequest(_message.Message):
    __slots__ = ("bid_id", "min_position")
    BID_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    bid_id: str
    min_position: int
    def __init__(self, bid_id: _Optional[str] = ..., min_position: _Optional[int] = ...) -> None: ...

class Bid(_message.Message):
    __slots__ = ("bid_id", "invoice_id", "investor_id", "amount", "status", "reason")
    BID_ID_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    INVESTOR_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    bid_id: str
    invoice_id: str
    investor_id: str
    amount: int
    status: str
    reason: str
    def __init__(self, bid_id: _Optional[str] = ..., invoice_id: _Optional[str] = ..., investor_id: _Optional[str] = ..., amount: _Optional[int] = ..., status: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ListIssuersRequest(_message.Message):
    __slots__ = ("page", "size", "min_position")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    page: int
    size: int
    min_position: int
    def __init__(self, page: _Optional[int] = ..., size: _Optional[int] = ..., min_position: _Optional[int] = ...) -> None: ...

class Issuer(_message.Message):
    __slots__ = ("id", "name")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class IssuerPage(_message.Message):
    __slots__ = ("items", "page", "size", "total", "has_more")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Issuer]
    page: int
    size: int
    total: int
    has_more: bool
    def __init__(self, items: _Optional[_Iterable[_Union[Issuer, _Mapping]]] = ..., page: _Optional[int] = ..., size: _Optional[int] = ..., total: _Optional[int] = ..., has_more: _Optional[bool] = ...) -> None: ...
