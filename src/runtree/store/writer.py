"""``JournalWriter``: the one background thread that commits a journal's rows, in batches.

Producers (the session's loop, a subscriber's thread) hand it finished rows (named tuples of
:mod:`runtree.store.record`); it commits them in transactions of at most ``max_batch``
operations. The bounds, which ``docs/journal.md`` states as guarantees:

* **Delay.** A batch starts at most ``flush_interval`` after its first operation was queued
  (at once when ``eager`` operations wait, or a caller waits for the disk).
* **Back-pressure, never loss.** A producer that finds ``max_pending`` operations queued, or
  finds an operation older than ``max_lag`` seconds not yet committed, blocks until the
  writer has committed everything queued so far (checked every 32 operations, so the
  bounds may be passed by up to 31 operations). So a busy event loop that never yields
  still gets its rows on disk within about ``max_lag`` plus one batch, and memory stays
  bounded; nothing is dropped to keep up.
* **Failures are reported.** A batch that cannot be committed (after retrying a busy file)
  is logged at once, its rows are counted in ``rows_lost`` and the first failure is kept
  (:attr:`JournalWriter.failure`); callers waiting for the disk (``durability="sync"``) get
  it as their exception. The session raises it when it exits.
"""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtree.store.errors import StoreError
from runtree.store.file import describe_sqlite_error
from runtree.store.record import (
    EventRecorded,
    RequestEnded,
    RequestStarted,
    RootTarget,
    RunCrashed,
    RunEnded,
    RunRootSet,
    RunStarted,
    WriteOp,
)

__all__ = ["JournalWriter"]

logger = logging.getLogger("runtree.store")

_INSERT_RUN = (
    "INSERT OR REPLACE INTO runs (run_id, name, status, start_time, pid, host, process_marker, "
    "resumed_from, durability, root_node, root_inputs, runtree_version) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SET_ROOT = "UPDATE runs SET root_node = ?, root_inputs = ? WHERE run_id = ?"
_ROOT_TARGET = (
    "INSERT OR IGNORE INTO root_targets (run_id, node_name, request_id, target, file) "
    "VALUES (?, ?, ?, ?, ?)"
)
_END_RUN = "UPDATE runs SET status = ?, end_time = ?, error = ? WHERE run_id = ?"
_CRASHED = (
    "UPDATE runs SET status = 'crashed', end_time = ? WHERE run_id = ? AND status = 'running'"
)
_CREATED = (
    "INSERT INTO requests (run_id, request_id, seq, parent_id, node_name, mode, inputs, "
    "start_time, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running') "
    "ON CONFLICT (run_id, request_id) DO NOTHING"
)
_FULL = (
    "INSERT INTO requests (run_id, request_id, seq, parent_id, node_name, mode, inputs, "
    "start_time, status, output, replay, replayable, error, end_time, replayed, attributes) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (run_id, request_id) DO UPDATE SET status = excluded.status, "
    "output = excluded.output, replay = excluded.replay, replayable = excluded.replayable, "
    "error = excluded.error, end_time = excluded.end_time, replayed = excluded.replayed, "
    "attributes = excluded.attributes"
)
# the common merged row: no replay pickle, no error, not replayed, no attributes; also
# written _ROWS at a time in one statement (fewer steps, and fewer times the writer gives up
# the GIL: a busy event loop then hands it back only every few milliseconds)
_PLAIN_INTO = (
    "INSERT INTO requests (run_id, request_id, seq, parent_id, node_name, mode, inputs, "
    "start_time, status, output, replayable, end_time) VALUES "
)
_PLAIN_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_PLAIN_UPSERT = (
    " ON CONFLICT (run_id, request_id) DO UPDATE SET status = excluded.status, "
    "output = excluded.output, replay = NULL, replayable = excluded.replayable, "
    "error = NULL, end_time = excluded.end_time, replayed = 0, attributes = NULL"
)
_FULL_PLAIN = _PLAIN_INTO + _PLAIN_ROW + _PLAIN_UPSERT
_ROWS = 32
_FULL_PLAIN_ROWS = _PLAIN_INTO + ", ".join([_PLAIN_ROW] * _ROWS) + _PLAIN_UPSERT
_ENDED = (
    "UPDATE requests SET status = ?, output = ?, replay = ?, replayable = ?, error = ?, "
    "end_time = ?, replayed = ?, attributes = ? WHERE run_id = ? AND request_id = ?"
)
_EVENT = (
    "INSERT OR IGNORE INTO events (run_id, seq, request_id, kind, payload, time) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
#: how many times a transaction that found the file busy is tried again
_BUSY_ATTEMPTS = 6

Future = concurrent.futures.Future


class _Durable(Future[None]):
    """A caller waits for this write (``durability="sync"``): a failure is its exception."""


class JournalWriter:
    """Commits queued operations on ``conn`` from a thread of its own (started lazily)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        path: Path,
        flush_interval: float,
        max_pending: int,
        max_lag: float,
        max_batch: int,
        eager: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._conn: sqlite3.Connection | None = conn
        self.path = path
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.max_lag = max_lag
        self.max_batch = max_batch
        self._eager = min(eager, max_pending)
        self._clock = clock
        self._pending: collections.deque[Any] = collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._armed = False
        self._urgent = False
        self._stopping = False
        self._dead = False
        #: monotonic time of the oldest operation not yet taken by the writer (or None)
        self._since: float | None = None
        #: monotonic time of the oldest operation being committed right now (or None)
        self._busy_since: float | None = None
        self._full_sync = False
        self.rows_written = 0
        self.flushes = 0
        self.errors = 0
        self.rows_lost = 0
        self.durable_waits = 0
        self.waits = 0
        #: the first failure (a :class:`StoreError` naming the file), or ``None``
        self.failure: StoreError | None = None

    # -- producers ---------------------------------------------------------------------------

    def put(self, op: WriteOp) -> None:
        """Queue ``op``; blocks while the writer is too far behind (back-pressure)."""
        pending = self._pending
        pending.append(op)
        size = len(pending)
        if size & 31 and size != 1 and self._armed:
            return  # the common case: the bounds are checked every 32 operations
        self._after_put(size)

    def _after_put(self, size: int) -> None:
        if self._dead:
            lost = 0
            while self._pending:
                if not isinstance(self._pending.popleft(), Future):
                    lost += 1
            self._lose(lost)
            return
        now = self._clock()
        if size == 1 and self._since is None:
            self._since = now
        if not self._armed:
            self._wake(urgent=False)
        elif size >= self._eager and not self._urgent:
            self._wake(urgent=True)
        oldest = self._busy_since or self._since
        if size >= self.max_pending or (oldest is not None and now - oldest > self.max_lag):
            self.waits += 1
            self.wait_committed()

    def put_durably(self, op: WriteOp) -> Future[None]:
        """Queue ``op``; the future resolves once it is committed (or fails with the
        :class:`StoreError` that kept it off the disk)."""
        done = _Durable()
        if self._dead:
            self._lose(1)
            done.set_exception(self._failure_or(f"run journal {str(self.path)!r} is closed"))
            return done
        self.durable_waits += 1
        if self._since is None:
            self._since = self._clock()
        self._pending.append(op)
        self._pending.append(done)
        self._wake(urgent=True)
        return done

    def wait_committed(self, timeout: float | None = None) -> bool:
        """Block until everything queued so far is committed (or lost); ``False`` on
        timeout."""
        if self._thread is None and not self._pending:
            return True
        if self._dead:
            return True
        done: Future[None] = Future()
        self._pending.append(done)
        self._wake(urgent=True)
        try:
            done.result(timeout)
        except concurrent.futures.TimeoutError:
            return False
        return True

    @property
    def pending(self) -> int:
        return sum(1 for item in list(self._pending) if not isinstance(item, Future))

    def _wake(self, *, urgent: bool) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"runtree-journal-{self.path.name}", daemon=True
                )
                self._thread.start()
            self._armed = True
            if urgent:
                self._urgent = True
            self._cond.notify()

    def _failure_or(self, message: str) -> StoreError:
        return self.failure if self.failure is not None else StoreError(message)

    def _lose(self, rows: int) -> None:
        self.rows_lost += rows
        if self.failure is None:
            self.failure = StoreError(
                f"run journal {str(self.path)!r}: rows written after it was closed were lost"
            )

    # -- the writer thread -------------------------------------------------------------------

    def close(self, timeout: float | None) -> bool:
        """Commit what is queued, stop the thread and close the connection. ``False`` if
        the thread did not finish within ``timeout`` (it closes the connection itself)."""
        thread = self._thread
        if thread is not None:
            with self._cond:
                self._stopping = True
                self._cond.notify()
            thread.join(timeout)
            if thread.is_alive():
                logger.warning(
                    "run journal %s: the writer did not finish within %ss", self.path, timeout
                )
                return False
        self._close_connection()
        return True

    def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # never leave producers blocked on a dead writer
            self._dead = True
            self._fail_all(exc)
            raise
        finally:
            if self._stopping:
                self._close_connection()

    def _loop(self) -> None:
        cond = self._cond
        pending = self._pending
        while True:
            with cond:
                while not pending and not self._stopping:
                    self._armed = False
                    if pending:  # checked again after clearing: no lost wake-up
                        break
                    cond.wait()
                if not self._urgent and not self._stopping:
                    deadline = time.monotonic() + self.flush_interval
                    while not self._urgent and not self._stopping:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            break
                        cond.wait(remaining)
                self._urgent = False
                self._armed = True
                stopping = self._stopping
            while pending:
                batch: list[Any] = []
                taken = 0
                self._busy_since = self._since
                self._since = None
                while pending and taken < self.max_batch:
                    item = pending.popleft()
                    batch.append(item)
                    taken += 1
                if pending:
                    self._since = self._busy_since  # conservative: as old as the batch
                self._write_batch(batch)
                self._busy_since = None
                if not stopping and not self._urgent and len(pending) < self._eager:
                    break  # the rest waits for the next interval, like any new write
            if stopping and not pending:
                return

    def _fail_all(self, exc: BaseException) -> None:
        error = self.failure or StoreError(
            f"run journal {str(self.path)!r}: the writer stopped: {type(exc).__name__}: {exc}"
        )
        if self.failure is None:
            self.failure = error
        while self._pending:
            item = self._pending.popleft()
            if isinstance(item, _Durable):
                item.set_exception(error)
            elif isinstance(item, Future):
                item.set_result(None)
            else:
                self.rows_lost += 1

    def _write_batch(self, batch: list[Any]) -> None:
        created: dict[tuple[str, str], RequestStarted] = {}
        full: list[tuple[Any, ...]] = []
        plain: list[tuple[Any, ...]] = []
        ended: list[RequestEnded] = []
        events: list[EventRecorded] = []
        runs: list[WriteOp] = []
        waiters: list[Future[None]] = []
        for item in batch:
            cls = type(item)
            if cls is RequestStarted:
                created[(item[0], item[1])] = item
            elif cls is RequestEnded:
                start = created.pop((item[8], item[9]), None)
                if start is None:
                    ended.append(item)
                elif item[2] is None and item[4] is None and not item[6] and item[7] is None:
                    plain.append((*start, item[0], item[1], item[3], item[5]))
                else:
                    full.append(start + item[:8])
            elif cls is EventRecorded:
                events.append(item)
            elif cls is Future or cls is _Durable:
                waiters.append(item)
            else:
                runs.append(item)
        rows = len(runs) + len(created) + len(full) + len(plain) + len(ended) + len(events)
        durable = any(type(waiter) is _Durable for waiter in waiters)
        error: StoreError | None = None
        if rows:
            try:
                self._commit(runs, list(created.values()), full, plain, ended, events, durable)
                self.rows_written += rows
                self.flushes += 1
            except Exception as exc:
                self.errors += 1
                self.rows_lost += rows
                reason = describe_sqlite_error(exc) if isinstance(exc, sqlite3.Error) else exc
                what = "1 row" if rows == 1 else f"{rows} rows"
                error = StoreError(
                    f"run journal {str(self.path)!r}: {what} could not be written: {reason}"
                )
                if self.failure is None:
                    self.failure = error
                logger.error("%s", error)
        for waiter in waiters:
            if waiter.done():
                continue
            if error is not None and type(waiter) is _Durable:
                waiter.set_exception(error)
            else:
                waiter.set_result(None)

    def _commit(
        self,
        runs: list[WriteOp],
        created: list[RequestStarted],
        full: list[tuple[Any, ...]],
        plain: list[tuple[Any, ...]],
        ended: list[RequestEnded],
        events: list[EventRecorded],
        durable: bool,
    ) -> None:
        conn = self._conn
        if conn is None:
            raise StoreError("the journal's connection is closed")
        if durable != self._full_sync:
            conn.execute("PRAGMA synchronous = FULL" if durable else "PRAGMA synchronous = NORMAL")
            self._full_sync = durable
        for attempt in range(_BUSY_ATTEMPTS):
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if attempt == _BUSY_ATTEMPTS - 1 or not _is_busy(exc):
                    raise
                continue  # another process held the file for the whole busy timeout
            try:
                for op in runs:
                    cls = type(op)
                    if cls is RunStarted:
                        conn.execute(_INSERT_RUN, op)
                    elif cls is RunRootSet:
                        conn.execute(_SET_ROOT, op)
                    elif cls is RunEnded:
                        conn.execute(_END_RUN, op)
                    elif cls is RunCrashed:
                        conn.execute(_CRASHED, op)
                    elif cls is RootTarget:
                        conn.execute(_ROOT_TARGET, op)
                if created:
                    conn.executemany(_CREATED, created)
                if full:
                    conn.executemany(_FULL, full)
                if plain:
                    _insert_plain(conn, plain)
                if ended:
                    conn.executemany(_ENDED, ended)
                if events:
                    conn.executemany(_EVENT, events)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return


def _insert_plain(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    whole = len(rows) - len(rows) % _ROWS
    if whole:
        chain = itertools.chain.from_iterable
        conn.executemany(
            _FULL_PLAIN_ROWS, [tuple(chain(rows[i : i + _ROWS])) for i in range(0, whole, _ROWS)]
        )
    if whole < len(rows):
        conn.executemany(_FULL_PLAIN, rows[whole:])


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text
