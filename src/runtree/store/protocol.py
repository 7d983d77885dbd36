"""``RunStore``: the plug point for run journals (``SqliteRunStore`` is the default).

A store takes finished rows (the write operations of :mod:`runtree.store.record`) and
answers the queries the CLI and resume need. The session's
:class:`~runtree.store.journal.Journal` encodes each request's rows when they happen and
hands them over; the store decides how they reach the disk.
"""

from __future__ import annotations

import concurrent.futures
from typing import Protocol, runtime_checkable

from runtree.store.errors import StoreError
from runtree.store.record import (
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
    """What a run journal must offer. Writes are thread-safe."""

    #: stored JSON values longer than this are cut and marked
    max_value_chars: int
    #: a pickle kept to replay an output is at most this long (else: not replayable)
    max_replay_bytes: int

    @property
    def status(self) -> str:
        """``"unopened"``, ``"open"`` or ``"closed"``."""

    @property
    def replay_key(self) -> bytes | None:
        """The secret that seals replay pickles (``None``: keep no pickles)."""

    @property
    def failure(self) -> StoreError | None:
        """The first write that did not reach the store (``None`` while all did)."""

    def open(self) -> RunStore:
        """Open the store; returns it."""

    def close(self, timeout: float | None = ...) -> None:
        """Write what is queued, then release everything."""

    def write(self, op: WriteOp) -> None:
        """Queue a write; it reaches the disk within the store's bounds (the caller may be
        slowed down while the store is behind, never the write dropped)."""

    def write_durably(self, op: WriteOp) -> concurrent.futures.Future[None]:
        """Queue a write; the future resolves once it is on disk, or fails with the
        :class:`StoreError` that kept it off."""

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
