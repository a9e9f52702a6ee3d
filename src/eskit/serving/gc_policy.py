"""Keeping the garbage collector's pauses out of a server's answers.

CPython's full (oldest-generation) collection walks every container object the process
holds. A server holds many that never die: its modules, the web framework's routes and
validators, pydantic's schemas. Under load a full collection then ran about every
second and paused the event loop for 30-35 ms each time, which every request in flight
waited out: it was most of the p99 latency of the bank-account service. Moving what
exists once the server is up into the permanent generation (``gc.freeze``) takes it out
of those walks; objects made afterwards (requests, cached aggregates) are collected as
before, so cycles are still freed.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_startup_objects"]


def freeze_startup_objects() -> None:
    """Collect once, then exempt every object alive now from later collections.

    Call it once the process has built what it keeps for its lifetime (the app, the
    store, the handlers) and before it takes load.
    """
    gc.collect()
    gc.freeze()
