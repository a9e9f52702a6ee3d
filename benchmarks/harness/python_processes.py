"""Benchmark modules in processes of their own: ``python -m <module>`` with the benchmarks
folder first on ``PYTHONPATH``, so that they import ``harness``, ``contenders`` and
``workloads`` as ``run.py`` does, whatever folder they run in."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["BENCHMARKS", "module_command", "module_env"]

BENCHMARKS = Path(__file__).resolve().parents[1]
"""The folder holding ``run.py``, ``harness``, ``contenders`` and ``workloads``."""


def module_command(module: str, *args: str) -> list[str]:
    """The command line running ``module`` (dotted, e.g. ``contenders.service_peers``)."""
    return [sys.executable, "-m", module, *args]


def module_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's environment) with :data:`BENCHMARKS` first on
    ``PYTHONPATH``; the paths already there are kept after it."""
    result = dict(os.environ if env is None else env)
    paths = [p for p in result.get("PYTHONPATH", "").split(os.pathsep) if p]
    result["PYTHONPATH"] = os.pathsep.join([str(BENCHMARKS), *paths])
    return result
