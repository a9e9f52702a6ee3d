"""The shipped contract as a third party runs it: its own project, pytest-asyncio strict mode."""

import math

import pytest

from eskit.testing.contract import StoreContract

pytestmark = pytest.mark.integration

STRICT = ("-p", "no:cacheprovider", "-o", "asyncio_mode=strict")

THEIR_STORE = """
from eskit.store import SQLiteEventStore
from eskit.testing.contract import StoreContract


class TestTheirStore(StoreContract):
    def make_store(self, request, tmp_path):
        return SQLiteEventStore.open(tmp_path / "theirs.db")
"""

THEIR_BROKEN_STORE = """
from eskit.store import InMemoryEventStore
from eskit.testing.contract import StoreContract


class BrokenStore(InMemoryEventStore):
    async def last_position(self):
        return 7


class TestTheirBrokenStore(StoreContract):
    def make_store(self, request, tmp_path):
        return BrokenStore()
"""


def runs_of(contract: type) -> int:
    """How many tests ``contract`` runs: one per test method and set of parameters."""
    return sum(
        math.prod(
            len(mark.args[1])
            for mark in getattr(getattr(contract, name), "pytestmark", ())
            if mark.name == "parametrize"
        )
        for name in dir(contract)
        if name.startswith("test_")
    )


def test_a_subclass_runs_the_whole_contract_in_strict_mode(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_their_store=THEIR_STORE)

    result = pytester.runpytest_subprocess(*STRICT)

    result.assert_outcomes(passed=runs_of(StoreContract))


def test_the_exported_classes_alone_collect_no_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_imports="from eskit.testing.contract import *\n")

    # in this process: the option only keeps pytest-asyncio's notice out of our own run
    result = pytester.runpytest(
        "--collect-only", "-o", "asyncio_default_fixture_loop_scope=function", *STRICT
    )

    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_a_failing_contract_test_shows_what_it_compared(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_their_store=THEIR_BROKEN_STORE)

    result = pytester.runpytest_subprocess(
        "-k", "test_last_position_of_empty_store_is_zero", *STRICT
    )

    result.assert_outcomes(failed=1, deselected=runs_of(StoreContract) - 1)
    result.stdout.fnmatch_lines(["*assert 7 == 0*"])
