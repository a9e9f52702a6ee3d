"""Keyed locks: commands to one aggregate take turns, others run meanwhile."""

from __future__ import annotations

import asyncio

import pytest

from eskit.store.keyed_locks import KeyedLocks

pytestmark = pytest.mark.unit


async def test_keyed_locks_serialise_one_key_and_forget_it_afterwards() -> None:
    locks = KeyedLocks()
    inside: list[str] = []
    overlaps: list[str] = []

    async def use(key: str) -> None:
        async with locks.hold(key):
            if key in inside:
                overlaps.append(key)
            inside.append(key)
            await asyncio.sleep(0.001)
            inside.remove(key)

    await asyncio.gather(*(use(key) for key in "abcab" * 10))
    assert overlaps == []
    assert len(locks) == 0


async def test_keyed_locks_let_other_keys_run_meanwhile() -> None:
    locks = KeyedLocks()
    entered = asyncio.Event()

    async def hold_a() -> None:
        async with locks.hold("a"):
            entered.set()
            await asyncio.sleep(0.05)

    task = asyncio.create_task(hold_a())
    await entered.wait()
    async with asyncio.timeout(0.02), locks.hold("b"):
        pass
    await task
