"""How much work each measurement does, in a full run and in a quick one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """How much work each measurement does; ``quick`` must finish in under 5 minutes."""

    quick: bool
    samples: int
    append_seconds: float
    """How long the writers of one append sample keep appending (fixed time)."""
    load_reps: dict[int, int]
    """Loads averaged into one latency sample, per stream length."""
    read_all_events: int = 100_000
    read_all_batches: tuple[int, ...] = (500, 1_000, 5_000)
    """Batch sizes tried for eskit's read_all."""
    read_all_other_batches: tuple[int, ...] = (1_000, 5_000)
    """Page sizes tried for raw and eventsourcing (the best one is shown)."""
    writers: tuple[int, ...] = (1, 4, 16)
    batch_writers: tuple[int, ...] = (1, 4)
    batch_size: int = 100
    load_lengths: tuple[int, ...] = (10, 100, 1_000, 10_000)
    catchup_accounts: int = 200
    """Catch-up preload: this many accounts of ``events_per_account`` events each."""
    events_per_account: int = 100
    catchup_batches: tuple[int, ...] = (500, 2_000)
    """Batch sizes of the catch-up (eskit's ``batch_size``, raw's and eventsourcing's pages)."""
    latency_seconds: float = 5.0
    """How long the writer of the latency workload appends."""
    latency_rate: int = 200
    """Appends per second of the latency workload's writer."""
    rebuild_accounts: int = 1_000
    """Rebuild preload: this many accounts of ``events_per_account`` events each."""
    rebuild_batch: int = 2_000
    rebuild_samples: int = 2
    service_samples: int = 1
    """Rounds of the service load, each contender and in-flight level once per round."""
    service_seconds: float = 4.0
    """How long one service load sample is measured, after ``service_warmup_s``."""
    service_warmup_s: float = 1.0
    service_in_flight: tuple[int, ...] = (16, 32, 64)
    """Concurrent requests of the load generator (one keep-alive connection each)."""
    service_accounts: int = 1_000
    service_sqlite_normal: bool = False
    """Also serve eskit on SQLite with ``synchronous=NORMAL``."""

    @classmethod
    def for_mode(cls, quick: bool) -> Settings:
        if quick:
            return cls(
                quick=True,
                samples=3,
                append_seconds=1.0,
                load_reps={10: 50, 100: 20, 1_000: 5, 10_000: 2},
            )
        return cls(
            quick=False,
            samples=5,
            append_seconds=2.0,
            load_reps={10: 200, 100: 50, 1_000: 10, 10_000: 2},
            read_all_batches=(250, 500, 1_000, 2_000, 5_000),
            read_all_other_batches=(500, 1_000, 5_000),
            catchup_accounts=1_000,
            latency_seconds=20.0,
            rebuild_accounts=10_000,
            rebuild_samples=3,
            service_samples=3,
            service_seconds=10.0,
            service_warmup_s=2.0,
            service_sqlite_normal=True,
        )
