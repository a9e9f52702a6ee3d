"""docs/service.md lists every error code the service answers, with its HTTP and gRPC
status, and no other: its table is compared with the codes the code defines.

The codes come from eskit's HTTP layer (``ERROR_DESCRIPTIONS``: every code it answers but
a service's business rules) and from the service's domain (each DomainError subclass); the
statuses from the one mapping of each API.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bank_accounts import domain
from eskit.errors import DomainError, EskitError
from eskit.grpc import status_code_of
from eskit.http import ERROR_DESCRIPTIONS
from eskit.http.errors import INTERNAL_ERROR, METHOD_NOT_ALLOWED, status_of

pytestmark = pytest.mark.unit

SERVICE_DOC = Path(__file__).resolve().parents[3] / "docs" / "service.md"
_ROW = re.compile(r"^\| `(?P<code>[a-z_]+)` \| (?P<http>\d{3}) \| (?P<grpc>[^|]+) \|")


def documented() -> dict[str, tuple[int, str]]:
    """The table under "Error codes": code -> (HTTP status, gRPC status or "—")."""
    section = SERVICE_DOC.read_text().split("\n## Error codes\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if match := _ROW.match(line):
            grpc_status = match["grpc"].strip().strip("`")
            assert match["code"] not in rows, f"{match['code']} is listed twice"
            rows[match["code"]] = (int(match["http"]), grpc_status)
    return rows


def error_classes() -> dict[str, type[EskitError]]:
    """Every eskit error class there is (the domain's imported), by code."""
    found: dict[str, type[EskitError]] = {}
    kinds: list[type[EskitError]] = [EskitError]
    while kinds:
        kind = kinds.pop()
        found.setdefault(kind.code, kind)
        kinds.extend(kind.__subclasses__())
    return found


def service_rules() -> set[str]:
    """The codes of the service's business rules."""
    return {
        value.code
        for value in vars(domain).values()
        if isinstance(value, type) and issubclass(value, DomainError) and value is not DomainError
    }


def test_the_documented_codes_are_the_codes_in_the_code() -> None:
    in_code = set(ERROR_DESCRIPTIONS) | service_rules()
    in_docs = set(documented())
    assert in_docs - in_code == set(), "documented, but answered nowhere"
    assert in_code - in_docs == set(), "answered, but not in docs/service.md"
    assert "balance_limit" in in_docs


def test_each_documented_status_is_the_one_the_apis_answer() -> None:
    classes = error_classes()
    other = {METHOD_NOT_ALLOWED: (405, "—"), INTERNAL_ERROR: (500, "INTERNAL")}
    for code, (http, grpc_status) in documented().items():
        if code in other:
            assert (http, grpc_status) == other[code], code
            continue
        kind = classes[code]
        assert http == status_of(kind), code
        if grpc_status != "—":
            assert grpc_status == status_code_of(kind).name, code
