"""Registering: issuers and investors sign up under a name."""

import pytest

from eskit.errors import InvalidCommandError
from eskit.testing.scenarios import AggregateScenario
from invoice_financing.registering import (
    InvalidNameError,
    Investor,
    InvestorRegistered,
    Issuer,
    IssuerRegistered,
    RegisterInvestor,
    RegisterIssuer,
)

pytestmark = pytest.mark.unit

issuers = AggregateScenario(Issuer, "issuer-1")
investors = AggregateScenario(Investor, "investor-1")


def test_registering_an_issuer_records_its_name_stripped() -> None:
    issuer = (
        issuers.given()
        .when(lambda _: Issuer.register("issuer-1", name="  Acme Ltd "))
        .then(IssuerRegistered(name="Acme Ltd"))
    )
    assert (issuer.id, issuer.name, issuer.version) == ("issuer-1", "Acme Ltd", 1)


def test_registering_an_investor_records_its_name() -> None:
    investor = (
        investors.given()
        .when(lambda _: Investor.register("investor-1", name="Ada"))
        .then(InvestorRegistered(name="Ada"))
    )
    assert investor.name == "Ada"


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_an_empty_or_overlong_name_is_refused(name: str) -> None:
    refused = issuers.given().when(lambda _: Issuer.register("i", name=name))
    assert refused.then_raises(InvalidNameError).code == "invalid_name"
    investors.given().when(lambda _: Investor.register("i", name=name)).then_raises(
        InvalidNameError
    )


def test_a_name_of_200_characters_is_accepted() -> None:
    issuers.given().when(lambda _: Issuer.register("i", name="x" * 200)).then(
        IssuerRegistered(name="x" * 200)
    )


def test_the_commands_strip_the_name_and_refuse_an_empty_or_overlong_one() -> None:
    assert RegisterIssuer.parse({"name": "  Acme  "}).name == "Acme"
    assert RegisterInvestor.parse({"name": "Ada"}).name == "Ada"
    for bad in ["", "  ", "x" * 201]:
        with pytest.raises(InvalidCommandError):
            RegisterIssuer.parse({"name": bad})
        with pytest.raises(InvalidCommandError):
            RegisterInvestor.parse({"name": bad})


def test_registration_commands_name_a_new_aggregate_unless_given() -> None:
    first, second = RegisterIssuer(name="A"), RegisterIssuer(name="A")
    assert first.aggregate_id != second.aggregate_id
    assert RegisterInvestor(aggregate_id="inv-7", name="B").aggregate_id == "inv-7"


def test_stream_and_event_type_names() -> None:
    assert (Issuer.stream_type, Investor.stream_type) == (
        "registering.Issuer",
        "registering.Investor",
    )
    assert (IssuerRegistered.event_type, InvestorRegistered.event_type) == (
        "registering.IssuerRegistered",
        "registering.InvestorRegistered",
    )
