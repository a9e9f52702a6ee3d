"""Fixtures of the end-to-end tests."""

from tests.e2e.serving import processes

__all__ = ["processes"]
