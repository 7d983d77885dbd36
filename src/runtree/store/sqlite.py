"""``SqliteRunStore``: the run journal in one SQLite file.

Writes never block the caller: they are queued and committed by one background writer
thread, in batches, within ``flush_interval`` seconds (100 ms by default) of the first
queued write. :meth:`SqliteRunStore.write_durably` returns a future that resolves once the
write is committed (``durability="sync"``); such commits use ``synchronous=FULL``, the
others ``NORMAL``. The file is in WAL mode with a busy timeout, so several processes can
write to it at once. A failed transaction is retried, then counted and dropped: the
journal never breaks a run.
"""

from __future__ import annotations

import collections
import concurrent.futures
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from runtree.errors import SessionStateError
from runtree.store.errors import RunNotFoundError, StoreError
from runtree.store.key import KeyTracker
from runtree.store.process import is_alive
from runtree.store.record import (
    Deferred,
    EventRecorded,
    RequestEnded,
    RequestStarted,
    RootTarget,
    RunEnded,
    RunInfo,
    RunRootSet,
    RunStarted,
    StoredEvent,
    StoredOutput,
    StoredRequest,
    StoredRoot,
    StoreStatistics,
    WriteOp,
)
from runtree.store.schema import migrate
from runtree.store.value import DEFAULT_MAX_REPLAY_BYTES, DEFAULT_MAX_VALUE_CHARS, inputs_digest

__all__ = ["SqliteRunStore", "connect", "open_journal_file"]

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
# the common merged row: no replay pickle, no error, not replayed, no attributes (fewer values
# to bind)
_FULL_PLAIN = (
    "INSERT INTO requests (run_id, request_id, seq, parent_id, node_name, mode, inputs, "
    "start_time, status, output, replayable, end_time) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (run_id, request_id) DO UPDATE SET status = excluded.status, "
    "output = excluded.output, replay = NULL, replayable = excluded.replayable, "
    "error = NULL, end_time = excluded.end_time, replayed = 0, attributes = NULL"
)
_ENDED = (
    "UPDATE requests SET status = ?, output = ?, replay = ?, replayable = ?, error = ?, "
    "end_time = ?, replayed = ?, attributes = ? WHERE run_id = ? AND request_id = ?"
)
_EVENT = (
    "INSERT OR IGNORE INTO events (run_id, seq, request_id, kind, payload, time) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_RUN_COLUMNS = (
    "r.run_id, r.name, r.status, r.start_time, r.end_time, r.pid, r.host, r.process_marker, "
    "r.resumed_from, r.durability, r.root_node, r.root_inputs, r.error, "
    "(SELECT count(*) FROM requests q WHERE q.run_id = r.run_id)"
)
_ATTEMPTS = 3
#: queued writes past which the writer starts at once instead of waiting for the interval
_EAGER = 2048


def connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """An autocommit connection to a journal file in WAL mode (usable from any thread)."""
    conn = sqlite3.connect(
        path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def open_journal_file(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """Open ``path`` (creating its folder and the file, migrating an older schema)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(path, busy_timeout)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open run journal {str(path)!r}: {exc}") from exc
    try:
        migrate(conn)
    except StoreError:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(f"cannot use run journal {str(path)!r}: {exc}") from exc
    return conn


class SqliteRunStore:
    """The journal in the SQLite file ``path`` (created with its folder if missing).

    Use it as a context manager or call :meth:`open` / :meth:`close`. ``flush_interval``
    bounds how long a write waits for the writer; ``busy_timeout`` how long a transaction
    waits for another process holding the file; ``max_value_chars`` the size of a stored
    JSON value (longer ones are cut and marked); ``max_replay_bytes`` the size of a kept
    pickle; ``max_pending`` the writer's queue (writes past it are dropped and counted).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        flush_interval: float = 0.1,
        busy_timeout: float = 10.0,
        max_value_chars: int = DEFAULT_MAX_VALUE_CHARS,
        max_replay_bytes: int = DEFAULT_MAX_REPLAY_BYTES,
        max_pending: int = 1_000_000,
    ) -> None:
        from runtree.errors import ConfigurationError

        for label, number in (("flush_interval", flush_interval), ("busy_timeout", busy_timeout)):
            if isinstance(number, bool) or not isinstance(number, (int, float)) or number < 0:
                raise ConfigurationError(f"{label} must be a number >= 0, got {number!r}")
        for label, count in (
            ("max_value_chars", max_value_chars),
            ("max_replay_bytes", max_replay_bytes),
            ("max_pending", max_pending),
        ):
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ConfigurationError(f"{label} must be a positive int, got {count!r}")
        self.path = Path(path)
        self.flush_interval = float(flush_interval)
        self.busy_timeout = float(busy_timeout)
        self.max_value_chars = max_value_chars
        self.max_replay_bytes = max_replay_bytes
        self.max_pending = max_pending
        self._status = "unopened"
        self._writer_conn: sqlite3.Connection | None = None
        self._reader_conn: sqlite3.Connection | None = None
        self._read_lock = threading.Lock()
        self._pending: collections.deque[WriteOp | Deferred | concurrent.futures.Future[None]] = (
            collections.deque()
        )
        self._cond = threading.Condition(threading.Lock())
        self._armed = False
        self._urgent = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._full_sync = False
        self._rows_written = 0
        self._flushes = 0
        self._errors = 0
        self._rows_dropped = 0
        self._durable_waits = 0

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def status(self) -> str:
        """``"unopened"``, ``"open"`` or ``"closed"``."""
        return self._status

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path, self.busy_timeout)

    def open(self) -> SqliteRunStore:
        """Open (creating or migrating the file). Returns ``self``."""
        if self._status != "unopened":
            raise SessionStateError(f"SqliteRunStore({str(self.path)!r}) is {self._status}")
        self._writer_conn = open_journal_file(self.path, self.busy_timeout)
        self._status = "open"
        return self

    def __enter__(self) -> SqliteRunStore:
        return self.open() if self._status == "unopened" else self._check_open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> SqliteRunStore:
        if self._status != "open":
            raise SessionStateError(f"SqliteRunStore({str(self.path)!r}) is {self._status}")
        return self

    def close(self, timeout: float | None = 30.0) -> None:
        """Write what is queued (waiting at most ``timeout`` seconds), then close."""
        if self._status != "open":
            self._status = "closed"
            return
        thread = self._thread
        if thread is not None:
            with self._cond:
                self._stopping = True
                self._cond.notify()
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("journal writer did not finish within %ss", timeout)
        self._status = "closed"
        if thread is None or not thread.is_alive():
            self._close_connections()

    def _close_connections(self) -> None:
        for conn in (self._writer_conn, self._reader_conn):
            if conn is not None:
                conn.close()
        self._writer_conn = self._reader_conn = None

    # -- writing -----------------------------------------------------------------------------

    def write(self, op: WriteOp | Deferred) -> None:
        """Queue ``op``; it is committed within ``flush_interval``. Never blocks."""
        if self._status != "open" or len(self._pending) >= self.max_pending:
            self._rows_dropped += 1
            return
        pending = self._pending
        pending.append(op)
        if not self._armed:
            self._wake(urgent=False)
        elif len(pending) >= _EAGER and not self._urgent:
            self._wake(urgent=True)  # plenty to write: start now, beside the caller

    def write_durably(self, op: WriteOp | Deferred) -> concurrent.futures.Future[None]:
        """Queue ``op`` and return a future that resolves once it is committed."""
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        if self._status != "open":
            self._rows_dropped += 1
            done.set_result(None)
            return done
        self._durable_waits += 1
        self._pending.append(op)
        self._pending.append(done)
        self._wake(urgent=True)
        return done

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything queued so far is committed; ``False`` on timeout."""
        if self._status != "open" or (not self._pending and self._thread is None):
            return True
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._pending.append(done)
        self._wake(urgent=True)
        try:
            done.result(timeout)
        except concurrent.futures.TimeoutError:
            return False
        return True

    def _wake(self, *, urgent: bool) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._writer, name=f"runtree-journal-{self.path.name}", daemon=True
                )
                self._thread.start()
            self._armed = True
            if urgent:
                self._urgent = True
            self._cond.notify()

    def _writer(self) -> None:
        cond = self._cond
        pending = self._pending
        interval = self.flush_interval
        try:
            while True:
                with cond:
                    while True:
                        if pending or self._stopping:
                            break
                        self._armed = False  # cleared before the check: no lost wake-up
                        if pending:
                            break
                        cond.wait()
                    if not self._urgent and not self._stopping:
                        deadline = time.monotonic() + interval
                        while not self._urgent and not self._stopping:
                            remaining = deadline - time.monotonic()
                            if remaining <= 0:
                                break
                            cond.wait(remaining)
                    self._urgent = False
                    self._armed = True
                    stopping = self._stopping
                batch: list[Any] = []
                while pending:
                    batch.append(pending.popleft())
                if batch:
                    self._write_batch(batch)
                if stopping and not pending:
                    return
        finally:
            if self._status == "closed":
                self._close_connections()

    def _write_batch(self, batch: list[Any]) -> None:
        created: dict[tuple[str, str], RequestStarted] = {}
        full: list[tuple[Any, ...]] = []
        plain: list[tuple[Any, ...]] = []
        ended: list[RequestEnded] = []
        events: list[EventRecorded] = []
        runs: list[WriteOp] = []
        waiters: list[concurrent.futures.Future[None]] = []
        for item in batch:
            cls = type(item)
            if cls is tuple:  # Deferred
                try:
                    item = item[0](item[1])
                except Exception:
                    self._errors += 1
                    self._rows_dropped += 1
                    logger.warning(
                        "run journal %s: a row could not be built", self.path, exc_info=True
                    )
                    continue
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
            elif cls is concurrent.futures.Future:
                waiters.append(item)
            else:
                runs.append(item)
        rows = len(runs) + len(created) + len(full) + len(plain) + len(ended) + len(events)
        conn = self._writer_conn
        try:
            if rows and conn is not None:
                self._commit(
                    conn, runs, created.values(), full, plain, ended, events, bool(waiters)
                )
                self._rows_written += rows
                self._flushes += 1
        except Exception as exc:
            self._errors += 1
            self._rows_dropped += rows
            logger.warning("run journal %s: %d rows not written: %s", self.path, rows, exc)
        finally:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _commit(
        self,
        conn: sqlite3.Connection,
        runs: list[WriteOp],
        created: Iterable[RequestStarted],
        full: list[tuple[Any, ...]],
        plain: list[tuple[Any, ...]],
        ended: list[RequestEnded],
        events: list[EventRecorded],
        durable: bool,
    ) -> None:
        if durable != self._full_sync:
            conn.execute("PRAGMA synchronous = FULL" if durable else "PRAGMA synchronous = NORMAL")
            self._full_sync = durable
        created = list(created)
        for attempt in range(_ATTEMPTS):
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for op in runs:
                        if type(op) is RunStarted:
                            conn.execute(_INSERT_RUN, op)
                        elif type(op) is RunRootSet:
                            conn.execute(_SET_ROOT, op)
                        elif type(op) is RootTarget:
                            conn.execute(_ROOT_TARGET, op)
                        elif type(op) is RunEnded:
                            conn.execute(_END_RUN, op)
                    if created:
                        conn.executemany(_CREATED, created)
                    if full:
                        conn.executemany(_FULL, full)
                    if plain:
                        conn.executemany(_FULL_PLAIN, plain)
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
            except sqlite3.OperationalError:
                if attempt == _ATTEMPTS - 1:
                    raise

    def statistics(self) -> StoreStatistics:
        return StoreStatistics(
            rows_written=self._rows_written,
            pending=sum(1 for item in self._pending if type(item) is not concurrent.futures.Future),
            flushes=self._flushes,
            errors=self._errors,
            rows_dropped=self._rows_dropped,
            durable_waits=self._durable_waits,
        )

    # -- reading -----------------------------------------------------------------------------

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self._check_open()
        self.flush()
        with self._read_lock:
            conn = self._reader_conn
            if conn is None:
                try:
                    conn = self._reader_conn = self._connect()
                except sqlite3.Error as exc:
                    raise StoreError(f"cannot read run journal {str(self.path)!r}: {exc}") from exc
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read run journal {str(self.path)!r}: {exc}") from exc

    def _execute(self, sql: str, params: tuple[Any, ...]) -> None:
        self._query(sql, params)

    @staticmethod
    def _run_info(row: tuple[Any, ...]) -> RunInfo:
        (run_id, name, status, start, end, pid, host, marker, resumed_from, durability) = row[:10]
        root_node, root_inputs, error, count = row[10:]
        effective = status
        if status == "running" and is_alive(pid, marker, host) is False:
            effective = "crashed"
        return RunInfo(
            run_id=run_id,
            name=name,
            status=effective,
            stored_status=status,
            start_time=start,
            end_time=end,
            pid=pid,
            host=host,
            resumed_from=resumed_from,
            durability=durability,
            root_node=root_node,
            root_inputs=root_inputs,
            error=error,
            request_count=count,
        )

    def list_runs(self, *, limit: int | None = None, name: str | None = None) -> list[RunInfo]:
        """Runs, newest first (only those called ``name`` if given)."""
        where = "WHERE r.name = ?" if name is not None else ""
        params: tuple[Any, ...] = (name,) if name is not None else ()
        rows = self._query(
            f"SELECT {_RUN_COLUMNS} FROM runs r {where} "
            "ORDER BY r.start_time DESC, r.rowid DESC LIMIT ?",
            (*params, -1 if limit is None else limit),
        )
        return [self._run_info(row) for row in rows]

    def get_run(self, ref: str) -> RunInfo:
        """The run whose id is ``ref`` or starts with it (``"latest"``: the newest run)."""
        ref = ref.strip()
        if ref in ("latest", "last"):
            runs = self.list_runs(limit=1)
            if not runs:
                raise RunNotFoundError(f"the journal {str(self.path)!r} has no runs yet")
            return runs[0]
        if not ref:
            raise RunNotFoundError("empty run id")
        rows = self._query(f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.run_id = ?", (ref,))
        if not rows:
            rows = self._query(
                f"SELECT {_RUN_COLUMNS} FROM runs r WHERE substr(r.run_id, 1, ?) = ? LIMIT 2",
                (len(ref), ref),
            )
        if not rows:
            raise RunNotFoundError(f"no run {ref!r} in {str(self.path)!r}")
        if len(rows) > 1:
            raise RunNotFoundError(f"run id prefix {ref!r} matches several runs; give more of it")
        return self._run_info(rows[0])

    def get_requests(self, run_id: str) -> list[StoredRequest]:
        """The run's requests in creation order."""
        rows = self._query(
            "SELECT request_id, parent_id, seq, node_name, mode, status, inputs, output, "
            "error, start_time, end_time, replayed, attributes FROM requests WHERE run_id = ? "
            "ORDER BY seq, start_time",
            (run_id,),
        )
        return [
            StoredRequest(
                request_id=row[0],
                parent_id=row[1],
                seq=row[2] if row[2] is not None else 0,
                node_name=row[3],
                mode=row[4],
                status=row[5],
                inputs=_loads(row[6]),
                output=_loads(row[7]),
                error=_loads(row[8]),
                start_time=row[9],
                end_time=row[10],
                replayed=bool(row[11]),
                attributes=_loads(row[12]),
            )
            for row in rows
        ]

    def get_events(self, run_id: str) -> list[StoredEvent]:
        """The run's stream items and fatal failures, in publication order."""
        rows = self._query(
            "SELECT seq, request_id, kind, payload, time FROM events WHERE run_id = ? ORDER BY seq",
            (run_id,),
        )
        return [
            StoredEvent(seq=r[0], request_id=r[1], kind=r[2], payload=_loads(r[3]), time=r[4])
            for r in rows
        ]

    def get_roots(self, run_id: str) -> list[StoredRoot]:
        """The run's own root calls (requests without a parent), in the order they were made,
        with the node each one called (see :mod:`runtree.store.root`)."""
        targets: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        if self._query(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", ("root_targets",)
        ):
            for name, request_id, target, file in self._query(
                "SELECT node_name, request_id, target, file FROM root_targets WHERE run_id = ?",
                (run_id,),
            ):
                targets[(name, request_id)] = (target, file)
        rows = self._query(
            "SELECT request_id, node_name, mode, inputs, status FROM requests "
            "WHERE run_id = ? AND parent_id IS NULL ORDER BY seq, start_time",
            (run_id,),
        )
        roots: list[StoredRoot] = []
        for request_id, node_name, mode, inputs, status in rows:
            unknown: tuple[str | None, str | None] = (None, None)
            target, file = targets.get((node_name, request_id)) or targets.get(
                (node_name, ""), unknown
            )
            roots.append(
                StoredRoot(
                    run_id=run_id,
                    request_id=request_id,
                    node_name=node_name,
                    target=target,
                    file=file,
                    mode=mode,
                    inputs=_loads(inputs),
                    status=status,
                )
            )
        return roots

    def completed_outputs(self, run_id: str) -> dict[str, StoredOutput]:
        """By request key (:mod:`runtree.store.key`): the requests of ``run_id`` that
        succeeded and can be replayed. Keys are computed here, over all the run's requests
        in creation order, so writing a request costs no hashing."""
        rows = self._query(
            "SELECT request_id, parent_id, node_name, inputs, status, replayable, output, replay "
            "FROM requests WHERE run_id = ? ORDER BY seq",
            (run_id,),
        )
        keys = KeyTracker()
        found: dict[str, StoredOutput] = {}
        for request_id, parent, node_name, inputs, status, replayable, output, replay in rows:
            key = keys.assign(request_id, parent, node_name, inputs_digest(inputs or ""))
            if status == "succeeded" and replayable:
                found[key] = StoredOutput(
                    request_id=request_id, node_name=node_name, output=output, replay=replay
                )
        return found

    def mark_crashed(self, run_id: str, *, end_time: float | None = None) -> None:
        """Record that a ``running`` run's process died (no effect on other statuses)."""
        self._execute(
            "UPDATE runs SET status = 'crashed', end_time = ? WHERE run_id = ? "
            "AND status = 'running'",
            (time.time() if end_time is None else end_time, run_id),
        )

    def __repr__(self) -> str:
        return f"<SqliteRunStore {str(self.path)!r} {self._status}>"


def _loads(text: Any) -> Any:
    if text is None or not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text
