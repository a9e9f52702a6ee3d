"""The process layer: reactors, sagas with deadlines, and the command queue.

- :class:`Reactor` / :func:`with_reactors`: run inside an append's transaction, may veto it;
  :class:`AsyncReactor`: after commit, at least once, deduplicated by event id.
- :class:`Saga`: a process across aggregates keyed by a correlation id; its state and the
  commands it issues commit together; deadlines are commands queued for later.
- :class:`CommandQueue` (the door: accept, store, answer at once), :class:`QueueWorker`
  (take, handle, record the outcome, retry, dead-letter), :class:`CommandDispatcher`.
"""

from eskit.process.clock import Clock, ManualClock, SystemClock
from eskit.process.dispatch import CommandDispatcher, command_type_name
from eskit.process.queue import CommandQueue, Receipt, queued_command
from eskit.process.queue_worker import QueueWorker, WorkerCounters
from eskit.process.reactors import AsyncReactor, Reactor, reacts, with_reactors
from eskit.process.sagas import Saga, SagaInstance, compensates, on

__all__ = [
    "AsyncReactor",
    "Clock",
    "CommandDispatcher",
    "CommandQueue",
    "ManualClock",
    "QueueWorker",
    "Reactor",
    "Receipt",
    "Saga",
    "SagaInstance",
    "SystemClock",
    "WorkerCounters",
    "command_type_name",
    "compensates",
    "on",
    "queued_command",
    "reacts",
    "with_reactors",
]
