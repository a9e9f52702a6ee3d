"""Every test module says what it costs, so ``pytest -m unit`` (or ``integration``, ``e2e``)
selects by cost across the subsystems' folders."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
COSTS = {"unit", "integration", "e2e"}


def modules_with_tests() -> list[Path]:
    return sorted([*ROOT.glob("tests/**/test_*.py"), *ROOT.glob("services/*/tests/**/test_*.py")])


def cost_markers(path: Path) -> set[str]:
    """The cost markers of ``pytestmark = pytest.mark.<cost>`` at the top of ``path``."""
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytestmark" for target in node.targets
        ):
            found |= {
                sub.attr
                for sub in ast.walk(node.value)
                if isinstance(sub, ast.Attribute) and sub.attr in COSTS
            }
    return found


def test_every_test_module_carries_exactly_one_cost_marker() -> None:
    modules = modules_with_tests()
    assert len(modules) > 50
    unmarked = [
        f"{path.relative_to(ROOT)}: {sorted(cost_markers(path)) or 'none'}"
        for path in modules
        if len(cost_markers(path)) != 1
    ]
    assert not unmarked, "\n".join(unmarked)
