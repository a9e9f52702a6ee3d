"""UUIDv7 identifiers: time-ordered, so ids sort by creation and index well.

Python 3.11 has no ``uuid.uuid7``; this follows RFC 9562 section 5.7 with the 12-bit
``rand_a`` field used as a counter, so ids made in one process are strictly increasing
even within one millisecond.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid

__all__ = ["derive_uuid7", "new_id", "uuid7"]

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_random = b""
"""Random bytes from the operating system, drawn in bulk: one system call per 400 ids."""
_used = 0
"""How many of them were taken already."""
_RANDOM_CHUNK = 4000

_new = object.__new__
_set = object.__setattr__
_UNKNOWN = uuid.SafeUUID.unknown


def _next_value() -> int:
    """The next UUIDv7 of this process, as an integer."""
    global _last_ms, _counter, _random, _used
    with _lock:
        if _used + 10 > len(_random):
            _random, _used = os.urandom(_RANDOM_CHUNK), 0
        random_bits = int.from_bytes(_random[_used : _used + 10])
        _used += 10
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            # start low in the counter's range, so a busy millisecond has room to count
            _last_ms, _counter = ms, (random_bits >> 64) & 0x3FF
        else:
            _counter += 1
            if _counter > 0xFFF:  # counter spent: borrow the next millisecond
                _last_ms, _counter = _last_ms + 1, 0
        ms, counter = _last_ms, _counter
    rand_b = random_bits & 0x3FFF_FFFF_FFFF_FFFF
    return (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand_b


def _uuid(value: int) -> uuid.UUID:
    # a value this module built is a valid UUID: skip uuid.UUID's checks of foreign input
    made = _new(uuid.UUID)
    _set(made, "int", value)
    _set(made, "is_safe", _UNKNOWN)
    return made


def uuid7() -> uuid.UUID:
    """Return a new UUIDv7, greater than every one this process made before."""
    return _uuid(_next_value())


def new_id() -> str:
    """Return a new UUIDv7 as a string, the form aggregate ids take."""
    text = f"{_next_value():032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def derive_uuid7(base: uuid.UUID, index: int) -> uuid.UUID:
    """Return a UUIDv7 that depends only on ``base`` and ``index``.

    It keeps the timestamp of ``base`` (so it still sorts by time) and fills the random
    bits from a hash. Command handling uses it to give the events of one command stable
    ids, which makes a retried command hit the store's idempotency check.
    """
    digest = hashlib.blake2b(base.bytes + index.to_bytes(4, "big"), digest_size=10).digest()
    random_bits = int.from_bytes(digest, "big")
    ms = base.int >> 80
    rand_a = random_bits >> 68 & 0xFFF
    rand_b = random_bits & 0x3FFF_FFFF_FFFF_FFFF
    return _uuid((ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b)
