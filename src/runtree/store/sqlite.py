"""``SqliteRunStore``: the run journal in one SQLite file.

Writes never block the caller for long: they are queued and committed by one background
thread (:class:`~runtree.store.writer.JournalWriter`), in batches, within ``flush_interval``
seconds (100 ms by default) of the first queued write; a producer that gets too far ahead
waits for the writer (back-pressure) instead of losing rows. :meth:`SqliteRunStore.
write_durably` returns a future that resolves once the write is committed
(``durability="sync"``); such commits use ``synchronous=FULL``, the others ``NORMAL``.

The file is in WAL mode with a busy timeout, so several processes can write to it at once;
it is created atomically and private (``0600``), see :mod:`runtree.store.file`.
``SqliteRunStore(path, readonly=True)`` reads a journal without ever changing it.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from runtree.errors import SessionStateError
from runtree.store.errors import ResumeError, RunNotFoundError, StoreError
from runtree.store.file import key_path, open_for_writing, open_readonly, replay_key, sqlite_problem
from runtree.store.key import KeyTracker
from runtree.store.process import is_alive
from runtree.store.record import (
    RunCrashed,
    RunInfo,
    StoredEvent,
    StoredOutput,
    StoredRequest,
    StoredRoot,
    StoreStatistics,
    WriteOp,
)
from runtree.store.value import (
    DEFAULT_MAX_REPLAY_BYTES,
    DEFAULT_MAX_VALUE_CHARS,
    inputs_digest,
    unseal,
)
from runtree.store.writer import JournalWriter

__all__ = ["SqliteRunStore"]

_RUN_COLUMNS = (
    "r.run_id, r.name, r.status, r.start_time, r.end_time, r.pid, r.host, r.process_marker, "
    "r.resumed_from, r.durability, r.root_node, r.root_inputs, r.error, "
    "(SELECT count(*) FROM requests q WHERE q.run_id = r.run_id)"
)


def _number(label: str, value: object, *, positive_int: bool = False) -> None:
    from runtree.errors import ConfigurationError

    if positive_int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"{label} must be a positive int, got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigurationError(f"{label} must be a number >= 0, got {value!r}")


class SqliteRunStore:
    """The journal in the SQLite file ``path`` (created with its folder if missing).

    Use it as a context manager or call :meth:`open` / :meth:`close`. ``readonly=True``
    opens an existing journal for reading only: nothing is ever created, converted or
    migrated, and every problem with the file is one :class:`StoreError` line.

    ``flush_interval`` bounds how long a write waits for the writer; ``busy_timeout`` how
    long a transaction waits for another process holding the file; ``max_value_chars`` the
    size of a stored JSON value (longer ones are cut and marked); ``max_replay_bytes`` the
    size of a kept pickle; ``max_pending`` and ``max_lag`` how far callers may get ahead of
    the writer (operations queued, seconds since the oldest uncommitted one) before they
    wait for it; ``max_batch`` the operations of one transaction.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        readonly: bool = False,
        flush_interval: float = 0.1,
        busy_timeout: float = 10.0,
        max_value_chars: int = DEFAULT_MAX_VALUE_CHARS,
        max_replay_bytes: int = DEFAULT_MAX_REPLAY_BYTES,
        max_pending: int = 20_000,
        max_lag: float = 0.25,
        max_batch: int = 20_000,
    ) -> None:
        for label, number in (
            ("flush_interval", flush_interval),
            ("busy_timeout", busy_timeout),
            ("max_lag", max_lag),
        ):
            _number(label, number)
        for label, count in (
            ("max_value_chars", max_value_chars),
            ("max_replay_bytes", max_replay_bytes),
            ("max_pending", max_pending),
            ("max_batch", max_batch),
        ):
            _number(label, count, positive_int=True)
        self.path = Path(path)
        self.readonly = bool(readonly)
        self.flush_interval = float(flush_interval)
        self.busy_timeout = float(busy_timeout)
        self.max_value_chars = max_value_chars
        self.max_replay_bytes = max_replay_bytes
        self.max_pending = max_pending
        self.max_lag = float(max_lag)
        self.max_batch = max_batch
        self._status = "unopened"
        self._writer: JournalWriter | None = None
        self._reader_conn: sqlite3.Connection | None = None
        self._read_lock = threading.Lock()
        self._key: bytes | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def status(self) -> str:
        """``"unopened"``, ``"open"`` or ``"closed"``."""
        return self._status

    @property
    def replay_key(self) -> bytes | None:
        """The secret that authenticates this journal's replay pickles (``<file>.key``), or
        ``None`` when the journal has none (read-only, never written)."""
        return self._key

    def open(self) -> SqliteRunStore:
        """Open (creating or migrating the file unless ``readonly``). Returns ``self``."""
        if self._status != "unopened":
            raise SessionStateError(f"SqliteRunStore({str(self.path)!r}) is {self._status}")
        if self.readonly:
            self._reader_conn = open_readonly(self.path, self.busy_timeout)
            self._key = replay_key(self.path, create=False)
        else:
            conn = open_for_writing(self.path, self.busy_timeout)
            try:
                self._key = replay_key(self.path, create=True)
            except BaseException:
                conn.close()
                raise
            self._writer = JournalWriter(
                conn,
                path=self.path,
                flush_interval=self.flush_interval,
                max_pending=self.max_pending,
                max_lag=self.max_lag,
                max_batch=self.max_batch,
            )
            # while open, `write` is the writer's own put (one call less on the hot path)
            self.write = self._writer.put  # type: ignore[method-assign]
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
        self._status = "closed"
        self.__dict__.pop("write", None)  # writes after close raise again
        if self._writer is not None:
            self._writer.close(timeout)
        with self._read_lock:
            if self._reader_conn is not None:
                self._reader_conn.close()
                self._reader_conn = None

    # -- writing -----------------------------------------------------------------------------

    def _writable(self) -> JournalWriter:
        if self.readonly:
            raise StoreError(f"run journal {str(self.path)!r} was opened read-only")
        writer = self._writer
        if writer is None or self._status != "open":
            raise SessionStateError(f"SqliteRunStore({str(self.path)!r}) is {self._status}")
        return writer

    def write(self, op: WriteOp) -> None:
        """Queue ``op``; it is committed within the store's bounds (see the module).
        Raises :class:`SessionStateError` unless the store is open for writing."""
        self._writable().put(op)

    def write_durably(self, op: WriteOp) -> concurrent.futures.Future[None]:
        """Queue ``op`` and return a future that resolves once it is committed (or fails
        with the :class:`StoreError` that kept it off the disk)."""
        return self._writable().put_durably(op)

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything queued so far is committed; ``False`` on timeout."""
        if self._status != "open" or self._writer is None:
            return True
        return self._writer.wait_committed(timeout)

    @property
    def failure(self) -> StoreError | None:
        """The first write that failed (its rows are counted in ``rows_lost``), or ``None``."""
        return None if self._writer is None else self._writer.failure

    def statistics(self) -> StoreStatistics:
        writer = self._writer
        if writer is None:
            return StoreStatistics(
                rows_written=0, pending=0, flushes=0, errors=0, rows_lost=0, durable_waits=0
            )
        return StoreStatistics(
            rows_written=writer.rows_written,
            pending=writer.pending,
            flushes=writer.flushes,
            errors=writer.errors,
            rows_lost=writer.rows_lost,
            durable_waits=writer.durable_waits,
            waits=writer.waits,
        )

    # -- reading -----------------------------------------------------------------------------

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self._check_open()
        self.flush()
        with self._read_lock:
            conn = self._reader_conn
            if conn is None:
                conn = self._reader_conn = open_readonly(self.path, self.busy_timeout)
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise sqlite_problem(self.path, exc) from exc

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
            f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE run_id = ? ORDER BY seq, start_time",
            (run_id,),
        )
        return [_stored_request(row) for row in rows]

    def get_request(self, run_id: str, request_id: str) -> StoredRequest | None:
        """One request of a run, or ``None``."""
        rows = self._query(
            f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE run_id = ? AND request_id = ?",
            (run_id, request_id),
        )
        return _stored_request(rows[0]) if rows else None

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
        in creation order, so writing a request costs no hashing.

        Every kept pickle is checked against the journal's replay key first: one that fails
        (changed outside runtree, or written with another key) raises :class:`ResumeError`
        before anything runs, and is never loaded.
        """
        rows = self._query(
            "SELECT request_id, parent_id, node_name, inputs, status, replayable, output, replay "
            "FROM requests WHERE run_id = ? ORDER BY seq",
            (run_id,),
        )
        keys = KeyTracker()
        found: dict[str, StoredOutput] = {}
        for request_id, parent, node_name, inputs, status, replayable, output, replay in rows:
            key = keys.assign(request_id, parent, node_name, inputs_digest(inputs or ""))
            if status != "succeeded" or not replayable:
                continue
            if replay is not None:
                replay = self._verified(run_id, request_id, node_name, bytes(replay))
            found[key] = StoredOutput(
                request_id=request_id, node_name=node_name, output=output, replay=replay
            )
        return found

    def _verified(self, run_id: str, request_id: str, node_name: str, blob: bytes) -> bytes:
        data = None if self._key is None else unseal(self._key, blob)
        if data is None:
            raise ResumeError(
                f"run {run_id}: the stored output of request {request_id} ({node_name}) in "
                f"{str(self.path)!r} fails its integrity check (it was changed outside runtree, "
                f"or {str(key_path(self.path))!r} is not the key it was written with); "
                "refusing to load it, since loading a pickle runs code"
            )
        return data

    def mark_crashed(self, run_id: str, *, end_time: float | None = None) -> None:
        """Record that a ``running`` run's process died (no effect on other statuses)."""
        self._writable().put_durably(
            RunCrashed(time.time() if end_time is None else end_time, run_id)
        ).result()

    def __repr__(self) -> str:
        mode = " read-only" if self.readonly else ""
        return f"<SqliteRunStore {str(self.path)!r} {self._status}{mode}>"


_REQUEST_COLUMNS = (
    "request_id, parent_id, seq, node_name, mode, status, inputs, output, error, start_time, "
    "end_time, replayed, attributes"
)


def _stored_request(row: tuple[Any, ...]) -> StoredRequest:
    return StoredRequest(
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


def _loads(text: Any) -> Any:
    if text is None or not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text
