"""Orders and stock: a small domain with a saga across two aggregates, for the process tests.

An order reserves stock; it must be paid within 15 minutes (a deadline) or it is cancelled
and its stock released. Stock refusing the reservation is an event, not an error, so the
saga hears of it and compensates.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, Field

from eskit.app import CommandHandler, Repository
from eskit.domain import Aggregate, Command, Event, EventRegistry, applies
from eskit.process import CommandDispatcher, Saga, SagaInstance, compensates, on
from eskit.store import EventStoreBackend

PAYMENT_WINDOW = timedelta(minutes=15)


class StockAdded(Event):
    event_type = "orders.StockAdded"
    quantity: int


class StockReserved(Event):
    event_type = "orders.StockReserved"
    order_id: str
    quantity: int


class StockRefused(Event):
    event_type = "orders.StockRefused"
    order_id: str
    reason: str


class StockReleased(Event):
    event_type = "orders.StockReleased"
    order_id: str
    quantity: int


class OrderPlaced(Event):
    event_type = "orders.OrderPlaced"
    sku: str
    quantity: int


class OrderPaid(Event):
    event_type = "orders.OrderPaid"


class OrderConfirmed(Event):
    event_type = "orders.OrderConfirmed"


class OrderCancelled(Event):
    event_type = "orders.OrderCancelled"
    reason: str


class Stock(Aggregate):
    stream_type = "Stock"
    available: int = 0
    reserved: dict[str, int] = Field(default_factory=dict)

    def reserve(self, order_id: str, quantity: int) -> None:
        if order_id in self.reserved:
            return
        if quantity > self.available:
            self.record(StockRefused(order_id=order_id, reason="out_of_stock"))
        else:
            self.record(StockReserved(order_id=order_id, quantity=quantity))

    def release(self, order_id: str) -> None:
        if order_id in self.reserved:
            self.record(StockReleased(order_id=order_id, quantity=self.reserved[order_id]))

    @applies(StockAdded)
    def _added(self, event: StockAdded) -> None:
        self.available += event.quantity

    @applies(StockReserved)
    def _reserved(self, event: StockReserved) -> None:
        self.available -= event.quantity
        self.reserved[event.order_id] = event.quantity

    @applies(StockRefused)
    def _refused(self, event: StockRefused) -> None:
        pass

    @applies(StockReleased)
    def _released(self, event: StockReleased) -> None:
        self.available += event.quantity
        del self.reserved[event.order_id]


class Order(Aggregate):
    stream_type = "Order"
    status: str = ""

    def pay(self) -> None:
        if self.status == "placed":
            self.record(OrderPaid())

    def confirm(self) -> None:
        if self.status == "paid":
            self.record(OrderConfirmed())

    def cancel(self, reason: str) -> None:
        if self.status == "placed":
            self.record(OrderCancelled(reason=reason))

    @applies(OrderPlaced)
    def _placed(self, event: OrderPlaced) -> None:
        self.status = "placed"

    @applies(OrderPaid)
    def _paid(self, event: OrderPaid) -> None:
        self.status = "paid"

    @applies(OrderConfirmed)
    def _confirmed(self, event: OrderConfirmed) -> None:
        self.status = "confirmed"

    @applies(OrderCancelled)
    def _cancelled(self, event: OrderCancelled) -> None:
        self.status = "cancelled"


Quantity = Annotated[int, Field(strict=True, gt=0)]


class AddStock(Command):
    quantity: Quantity


class ReserveStock(Command):
    order_id: str
    quantity: Quantity


class ReleaseStock(Command):
    order_id: str


class PlaceOrder(Command):
    sku: str
    quantity: Quantity


class PayOrder(Command):
    pass


class ConfirmOrder(Command):
    pass


class CancelOrder(Command):
    reason: str


stock_registry = EventRegistry([StockAdded, StockReserved, StockRefused, StockReleased])
order_registry = EventRegistry([OrderPlaced, OrderPaid, OrderConfirmed, OrderCancelled])


def build_dispatcher(store: EventStoreBackend) -> CommandDispatcher:
    """Both aggregates' handlers behind one dispatcher."""
    stock: CommandHandler[Stock] = CommandHandler(Repository(store, Stock, stock_registry))
    orders: CommandHandler[Order] = CommandHandler(Repository(store, Order, order_registry))

    @stock.creates(AddStock)
    def add(command: AddStock) -> Stock:
        created = Stock(id=command.aggregate_id)
        created.record(StockAdded(quantity=command.quantity))
        return created

    @stock.updates(ReserveStock)
    def reserve(item: Stock, command: ReserveStock) -> None:
        item.reserve(command.order_id, command.quantity)

    @stock.updates(ReleaseStock)
    def release(item: Stock, command: ReleaseStock) -> None:
        item.release(command.order_id)

    @orders.creates(PlaceOrder)
    def place(command: PlaceOrder) -> Order:
        order = Order(id=command.aggregate_id)
        order.record(OrderPlaced(sku=command.sku, quantity=command.quantity))
        return order

    @orders.updates(PayOrder)
    def pay(order: Order, command: PayOrder) -> None:
        order.pay()

    @orders.updates(ConfirmOrder)
    def confirm(order: Order, command: ConfirmOrder) -> None:
        order.confirm()

    @orders.updates(CancelOrder)
    def cancel(order: Order, command: CancelOrder) -> None:
        order.cancel(command.reason)

    return CommandDispatcher.of([stock, orders])


class FulfilmentState(BaseModel):
    sku: str = ""
    quantity: int = 0
    stock_reserved: bool = False


class Fulfilment(Saga[FulfilmentState]):
    """Reserve stock for an order, wait for payment, confirm; or cancel and release."""

    name = "order_fulfilment"
    state_type = FulfilmentState

    @on(OrderPlaced, starts=True)
    def placed(self, saga: SagaInstance[FulfilmentState], event: OrderPlaced) -> None:
        saga.state.sku, saga.state.quantity = event.sku, event.quantity
        saga.send(
            ReserveStock(
                aggregate_id=event.sku, order_id=saga.correlation_id, quantity=event.quantity
            )
        )
        saga.schedule(
            "payment",
            at=saga.now + PAYMENT_WINDOW,
            command=CancelOrder(aggregate_id=saga.correlation_id, reason="not paid in time"),
        )
        saga.step, saga.reason = "reserving", "waiting for the stock"

    @on(StockReserved, correlate=lambda e: e.order_id)
    def reserved(self, saga: SagaInstance[FulfilmentState], event: StockReserved) -> None:
        saga.state.stock_reserved = True
        saga.step, saga.reason = "awaiting_payment", "waiting for the payment"

    @compensates(StockRefused, correlate=lambda e: e.order_id)
    def refused(self, saga: SagaInstance[FulfilmentState], event: StockRefused) -> None:
        saga.cancel("payment")
        saga.send(CancelOrder(aggregate_id=saga.correlation_id, reason=event.reason))
        saga.step = "cancelling"

    @on(OrderPaid)
    def paid(self, saga: SagaInstance[FulfilmentState], event: OrderPaid) -> None:
        saga.cancel("payment")
        saga.send(ConfirmOrder(aggregate_id=saga.correlation_id))
        saga.step = "confirming"

    @on(OrderConfirmed)
    def confirmed(self, saga: SagaInstance[FulfilmentState], event: OrderConfirmed) -> None:
        saga.step = "done"
        saga.complete("confirmed")

    @compensates(OrderCancelled)
    def cancelled(self, saga: SagaInstance[FulfilmentState], event: OrderCancelled) -> None:
        saga.reason = event.reason
        if saga.state.stock_reserved:
            saga.send(ReleaseStock(aggregate_id=saga.state.sku, order_id=saga.correlation_id))
            saga.step = "releasing"
        else:
            saga.step = "cancelled"
            saga.compensated(event.reason)

    @on(StockReleased, correlate=lambda e: e.order_id)
    def released(self, saga: SagaInstance[FulfilmentState], event: StockReleased) -> None:
        saga.step = "cancelled"
        saga.compensated()


def place(sku: str = "sku-1", quantity: int = 2, order_id: str = "order-1") -> PlaceOrder:
    return PlaceOrder(aggregate_id=order_id, sku=sku, quantity=quantity)


def stocked(sku: str = "sku-1", quantity: int = 10) -> AddStock:
    return AddStock(aggregate_id=sku, quantity=quantity)


__all__ = ["Fulfilment", "build_dispatcher", "place", "stocked"]
