"""The gRPC contract: its two services, their methods, and the messages' fields."""

from __future__ import annotations

import pytest

from invoice_financing.proto import invoice_financing_pb2 as pb

pytestmark = pytest.mark.unit

SERVICES = pb.DESCRIPTOR.services_by_name


def methods(service: str) -> dict[str, tuple[str, str]]:
    return {m.name: (m.input_type.name, m.output_type.name) for m in SERVICES[service].methods}


def test_the_package_and_its_services() -> None:
    assert pb.DESCRIPTOR.package == "invoice_financing.v1"
    assert set(SERVICES) == {"FinancingCommands", "FinancingQueries"}


def test_every_command_is_accepted_and_its_status_can_be_asked_for() -> None:
    commands = methods("FinancingCommands")
    assert set(commands) == {
        "RegisterIssuer",
        "RegisterInvestor",
        "DepositFunds",
        "WithdrawFunds",
        "PutInvoiceForSale",
        "BidOnInvoice",
        "GetCommand",
    }
    for name, (_, reply) in commands.items():
        assert reply == ("CommandStatus" if name == "GetCommand" else "CommandAccepted")
    assert [f.name for f in pb.CommandAccepted.DESCRIPTOR.fields] == [
        "command_id",
        "aggregate_id",
        "status_url",
    ]
    assert [f.name for f in pb.CommandStatus.DESCRIPTOR.fields] == [
        "command_id",
        "status",
        "attempts",
        "aggregate_id",
        "version",
        "position",
        "error_code",
        "error_message",
    ]


def test_every_query_may_wait_for_a_position() -> None:
    queries = methods("FinancingQueries")
    assert set(queries) == {
        "GetInvoice",
        "ListInvoices",
        "GetInvestor",
        "ListInvestors",
        "GetBid",
        "ListIssuers",
    }
    for request, _ in queries.values():
        message = pb.DESCRIPTOR.message_types_by_name[request]
        field = message.fields_by_name["min_position"]
        assert field.has_presence  # optional: unset is not the same as 0
    assert not pb.GetInvoiceRequest().HasField("min_position")
    assert pb.GetInvoiceRequest(min_position=0).HasField("min_position")
