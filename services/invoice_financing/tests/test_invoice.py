"""An invoice for sale: financed by the first bid of its amount, every other bid rejected."""

from datetime import date

import pytest

from eskit.testing.scenarios import AggregateScenario
from invoice_financing.financing import (
    REJECTION_REASONS,
    BidRejected,
    FinancingIssuer,
    InvalidAmountError,
    Invoice,
    InvoiceFinanced,
    InvoicePutForSale,
    InvoiceWithdrawn,
    IssuerAdded,
    UnknownIssuerError,
)

pytestmark = pytest.mark.unit

scenario = AggregateScenario(Invoice, "invoice-1")
DUE = date(2030, 6, 30)
FOR_SALE = InvoicePutForSale(issuer_id="issuer-1", amount=5000, currency="EUR", due_date=DUE)
FINANCED = InvoiceFinanced(bid_id="bid-1", investor_id="investor-1", amount=5000)
WITHDRAWN = InvoiceWithdrawn(reason="paid by the customer")


def test_putting_an_invoice_up_for_sale() -> None:
    invoice = (
        scenario.given()
        .when(
            lambda _: Invoice.put_for_sale(
                "invoice-1", issuer_id="issuer-1", amount=5000, currency="EUR", due_date=DUE
            )
        )
        .then(FOR_SALE)
    )
    assert (invoice.status, invoice.amount, invoice.due_date) == ("for_sale", 5000, DUE)
    assert (invoice.investor_id, invoice.bid_id) == (None, None)


@pytest.mark.parametrize("amount", [0, -1, 2.5, True])
def test_an_invoice_amount_must_be_a_positive_integer(amount: object) -> None:
    scenario.given().when(
        lambda _: Invoice.put_for_sale(
            "i",
            issuer_id="issuer-1",
            amount=amount,  # type: ignore[arg-type]
            currency="EUR",
            due_date=DUE,
        )
    ).then_raises(InvalidAmountError)


def test_a_bid_of_the_invoice_amount_finances_it() -> None:
    invoice = (
        scenario.given(FOR_SALE)
        .when(lambda i: i.finance("bid-1", "investor-1", 5000, "EUR"))
        .then(FINANCED)
    )
    assert (invoice.status, invoice.investor_id, invoice.bid_id) == (
        "financed",
        "investor-1",
        "bid-1",
    )


@pytest.mark.parametrize(("amount", "currency"), [(4999, "EUR"), (5001, "EUR"), (5000, "USD")])
def test_a_bid_of_another_amount_or_currency_is_rejected(amount: int, currency: str) -> None:
    invoice = (
        scenario.given(FOR_SALE)
        .when(lambda i: i.finance("bid-2", "investor-2", amount, currency))
        .then(BidRejected(bid_id="bid-2", investor_id="investor-2", reason="amount_mismatch"))
    )
    assert invoice.status == "for_sale"


def test_a_bid_on_a_financed_invoice_is_rejected() -> None:
    scenario.given(FOR_SALE, FINANCED).when(
        lambda i: i.finance("bid-2", "investor-2", 5000, "EUR")
    ).then(BidRejected(bid_id="bid-2", investor_id="investor-2", reason="already_financed"))


def test_a_bid_on_a_withdrawn_invoice_is_rejected() -> None:
    scenario.given(FOR_SALE, WITHDRAWN).when(
        lambda i: i.finance("bid-2", "investor-2", 5000, "EUR")
    ).then(BidRejected(bid_id="bid-2", investor_id="investor-2", reason="withdrawn"))


def test_the_status_is_checked_before_the_amount() -> None:
    scenario.given(FOR_SALE, FINANCED).when(
        lambda i: i.finance("bid-2", "investor-2", 1, "USD")
    ).then(BidRejected(bid_id="bid-2", investor_id="investor-2", reason="already_financed"))


def test_the_same_bid_again_changes_nothing() -> None:
    scenario.given(FOR_SALE, FINANCED).when(
        lambda i: i.finance("bid-1", "investor-1", 5000, "EUR")
    ).then_nothing()
    rejected = BidRejected(bid_id="bid-2", investor_id="investor-2", reason="amount_mismatch")
    # answered once: even with the right amount now, the bid stays rejected
    invoice = (
        scenario.given(FOR_SALE, rejected)
        .when(lambda i: i.finance("bid-2", "investor-2", 5000, "EUR"))
        .then_nothing()
    )
    assert invoice.status == "for_sale"
    assert invoice.rejected_bids == {"bid-2": "amount_mismatch"}


def test_a_bid_never_raises_a_business_error() -> None:
    for history in [(FOR_SALE,), (FOR_SALE, FINANCED), (FOR_SALE, WITHDRAWN)]:
        for amount, currency in [(5000, "EUR"), (1, "EUR"), (5000, "JPY")]:
            invoice = scenario.given(*history).aggregate
            invoice.finance("bid-x", "investor-x", amount, currency)
            assert len(invoice.pending_events) == 1
            event = invoice.pending_events[0]
            assert isinstance(event, InvoiceFinanced | BidRejected)
            if isinstance(event, BidRejected):
                assert event.reason in REJECTION_REASONS


def test_withdrawing_an_invoice_for_sale() -> None:
    invoice = (
        scenario.given(FOR_SALE).when(lambda i: i.withdraw("paid by the customer")).then(WITHDRAWN)
    )
    assert invoice.status == "withdrawn"


def test_withdrawing_an_invoice_not_for_sale_changes_nothing() -> None:
    scenario.given(FOR_SALE, FINANCED).when(lambda i: i.withdraw("too late")).then_nothing()
    scenario.given(FOR_SALE, WITHDRAWN).when(lambda i: i.withdraw("again")).then_nothing()


def test_a_snapshot_keeps_the_due_date_and_the_rejected_bids() -> None:
    rejected = BidRejected(bid_id="bid-2", investor_id="investor-2", reason="amount_mismatch")
    invoice = scenario.given(FOR_SALE, rejected, FINANCED).aggregate
    restored = Invoice.from_snapshot(invoice.id, invoice.version, invoice.snapshot_state())
    assert restored.model_dump() == invoice.model_dump()


def test_financing_knows_issuers_by_the_id_registering_gave_them() -> None:
    issuer = (
        AggregateScenario(FinancingIssuer, "issuer-1")
        .given()
        .when(lambda _: FinancingIssuer.add("issuer-1", name="Acme"))
        .then(IssuerAdded(name="Acme"))
    )
    assert (issuer.id, issuer.name, issuer.stream_type) == ("issuer-1", "Acme", "financing.Issuer")


def test_an_unknown_issuer_error_names_the_issuer() -> None:
    error = UnknownIssuerError("issuer-9")
    assert (error.code, error.issuer_id) == ("unknown_issuer", "issuer-9")
    assert "issuer-9" in str(error)


def test_event_type_names() -> None:
    rejected = BidRejected(bid_id="b", investor_id="i", reason="withdrawn")
    assert Invoice.stream_type == "financing.Invoice"
    assert [e.event_type for e in (FOR_SALE, FINANCED, rejected, WITHDRAWN)] == [
        "financing.InvoicePutForSale",
        "financing.InvoiceFinanced",
        "financing.BidRejected",
        "financing.InvoiceWithdrawn",
    ]
