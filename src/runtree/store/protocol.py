"""``RunStore``: the plug point for run journals (``SqliteRunStore`` is the default).

A store takes write operations (:mod:`runtree.store.record`) without blocking the caller
and answers the queries the CLI and resume need. The session never calls it on the hot
path in ``batch`` durability: a :class:`~runtree.store.journal.Journal` subscribed to the
session's publisher feeds it.
"""

from __future__ import annotations

import concurrent.futures
from typing import Protocol, runtime_checkable

from runtree.store.record import (
    Deferred,
    RunInfo,
    StoredEvent,
    StoredOutput,
    StoredRequest,
    StoredRoot,
    StoreStatistics,
    WriteOp,
)

__all__ = ["RunStore"]


@runtime_checkable
class RunStore(Protocol):
    """What a run journal must offer. Writes are thread-safe and never block."""

    #: stored JSON values longer than this are cut and marked
    max_value_chars: int
    #: a pickle kept to replay an output is at most this long (else: not replayable)
    max_replay_bytes: int

    @property
    def status(self) -> str:
        """``"unopened"``, ``"open"`` or ``"closed"``."""

    def open(self) -> RunStore:
        """Open the store; returns it."""

    def close(self, timeout: float | None = ...) -> None:
        """Write what is queued, then release everything."""

    def write(self, op: WriteOp | Deferred) -> None:
        """Queue a write; it reaches the disk within the store's flush bound."""

    def write_durably(self, op: WriteOp | Deferred) -> concurrent.futures.Future[None]:
        """Queue a write; the future resolves once it is on disk."""

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything queued is on disk; ``False`` on timeout."""

    def statistics(self) -> StoreStatistics:
        """Rows written, pending, flushes, errors."""

    def list_runs(self, *, limit: int | None = None, name: str | None = None) -> list[RunInfo]:
        """Runs, newest first."""

    def get_run(self, ref: str) -> RunInfo:
        """A run by id, unique id prefix, or ``"latest"``."""

    def get_requests(self, run_id: str) -> list[StoredRequest]:
        """A run's requests, in creation order."""

    def get_events(self, run_id: str) -> list[StoredEvent]:
        """A run's stream items and fatal failures."""

    def get_roots(self, run_id: str) -> list[StoredRoot]:
        """A run's own root calls, in order, with the node each one called."""

    def completed_outputs(self, run_id: str) -> dict[str, StoredOutput]:
        """The replayable succeeded requests of a run, by request key."""

    def mark_crashed(self, run_id: str, *, end_time: float | None = None) -> None:
        """Record that a run's process died while it was ``running``."""
