"""Fixtures of the serving tests: eskit commands run as real processes, stopped afterwards."""

from tests.serving.processes import processes

__all__ = ["processes"]
