"""``SqliteDeliveryLog``: the messages of a reliable sender, kept in the run journal's file.

It implements :class:`runtree.comm.DeliveryLog`. Each record (sent, attempt, acked, dead)
is committed before the method returns, in WAL mode, so what a sender had not settled when
its process died is still there: a new :class:`~runtree.comm.ReliableSender` on the same
file and ``log`` name redelivers it (``recover()``, run on ``async with`` entry). Messages
must be JSON-serialisable (``CommMessage.to_json()``) to be kept this way.

Several senders may share one file: each uses its own ``name``.
"""

from __future__ import annotations

import datetime as _dt
import os
import sqlite3
import threading
import time
from pathlib import Path
from types import TracebackType

from runtree.comm.delivery_log import DeadLetter, DeliveryLogStatistics, PendingDelivery
from runtree.comm.errors import MessageFormatError
from runtree.comm.message import CommMessage, message_from_json
from runtree.errors import ConfigurationError, SessionStateError
from runtree.store.errors import StoreError
from runtree.store.sqlite import open_journal_file

__all__ = ["SqliteDeliveryLog"]

_UTC = _dt.timezone.utc


class SqliteDeliveryLog:
    """A durable :class:`~runtree.comm.DeliveryLog` in a journal file (default: the run
    journal's, ``runtree.store.default_store_path()``).

    Use it as a context manager (or ``open()`` / ``close()``); ``name`` separates the
    deliveries of different senders in one file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        name: str = "default",
        busy_timeout: float = 10.0,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"name must be a non-empty string, got {name!r}")
        if path is None:
            from runtree.store.journal import default_store_path

            path = default_store_path()
        self.path = Path(path)
        self.name = name
        self.busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._status = "unopened"
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def status(self) -> str:
        """``"unopened"``, ``"open"`` or ``"closed"``."""
        return self._status

    def open(self) -> SqliteDeliveryLog:
        if self._status != "unopened":
            raise SessionStateError(f"SqliteDeliveryLog({str(self.path)!r}) is {self._status}")
        self._conn = open_journal_file(self.path, self.busy_timeout)
        self._status = "open"
        return self

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._status = "closed"

    def __enter__(self) -> SqliteDeliveryLog:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _execute(self, sql: str, params: tuple[object, ...]) -> None:
        conn = self._connection()
        try:
            with self._lock:
                conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(f"delivery log {self.name!r} in {str(self.path)!r}: {exc}") from exc

    def _select(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        conn = self._connection()
        try:
            with self._lock:
                return list(conn.execute(sql, params))
        except sqlite3.Error as exc:
            raise StoreError(f"delivery log {self.name!r} in {str(self.path)!r}: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise SessionStateError(
                f"SqliteDeliveryLog({str(self.path)!r}) is {self._status}; open it first "
                "(use it as a context manager)"
            )
        return self._conn

    # -- DeliveryLog -------------------------------------------------------------------------

    def record_sent(self, message: CommMessage) -> None:
        try:
            document = message.to_json()
        except MessageFormatError as exc:
            raise MessageFormatError(
                f"message {message.id} cannot be kept in the delivery log ({exc}); messages "
                "of a durable log must be JSON-serialisable",
                field=exc.field,
            ) from exc
        self._execute(
            "INSERT OR IGNORE INTO deliveries (log, message_id, message, attempts, status, "
            "sent_at) VALUES (?, ?, ?, 0, 'pending', ?)",
            (self.name, message.id, document, time.time()),
        )

    def record_attempt(self, message_id: str, attempt: int) -> None:
        self._execute(
            "UPDATE deliveries SET attempts = ? WHERE log = ? AND message_id = ? "
            "AND status = 'pending'",
            (attempt, self.name, message_id),
        )

    def record_acked(self, message_id: str) -> None:
        self._execute(
            "UPDATE deliveries SET status = 'acked', settled_at = ? WHERE log = ? "
            "AND message_id = ? AND status = 'pending'",
            (time.time(), self.name, message_id),
        )

    def record_dead(self, letter: DeadLetter) -> None:
        message = letter.message
        self._execute(
            "INSERT INTO deliveries (log, message_id, message, attempts, status, reason, "
            "error_type, sent_at, settled_at) VALUES (?, ?, ?, ?, 'dead', ?, ?, ?, ?) "
            "ON CONFLICT (log, message_id) DO UPDATE SET status = 'dead', "
            "attempts = excluded.attempts, reason = excluded.reason, "
            "error_type = excluded.error_type, settled_at = excluded.settled_at",
            (
                self.name,
                message.id,
                message.to_json(lossy=True),
                letter.attempts,
                letter.reason,
                letter.error_type,
                time.time(),
                letter.dead_at.timestamp(),
            ),
        )

    def unacked(self) -> list[PendingDelivery]:
        rows = self._select(
            "SELECT message, attempts FROM deliveries WHERE log = ? AND status = 'pending' "
            "ORDER BY sent_at, message_id",
            (self.name,),
        )
        return [
            PendingDelivery(message=message_from_json(str(text)), attempts=int(str(attempts)))
            for text, attempts in rows
        ]

    # -- inspection --------------------------------------------------------------------------

    def dead_letters(self) -> list[DeadLetter]:
        """Every message of this log that became a dead letter, oldest first."""
        rows = self._select(
            "SELECT message, attempts, reason, error_type, settled_at FROM deliveries "
            "WHERE log = ? AND status = 'dead' ORDER BY settled_at, message_id",
            (self.name,),
        )
        return [
            DeadLetter(
                message=message_from_json(str(text)),
                attempts=int(str(attempts)),
                reason=str(reason),
                error_type=None if error_type is None else str(error_type),
                dead_at=_dt.datetime.fromtimestamp(float(str(dead_at)), tz=_UTC),
            )
            for text, attempts, reason, error_type, dead_at in rows
        ]

    def statistics(self) -> DeliveryLogStatistics:
        counts = dict.fromkeys(("pending", "acked", "dead"), 0)
        for status, count in self._select(
            "SELECT status, COUNT(*) FROM deliveries WHERE log = ? GROUP BY status", (self.name,)
        ):
            counts[str(status)] = int(str(count))
        return DeliveryLogStatistics(
            sent=sum(counts.values()),
            acked=counts["acked"],
            dead=counts["dead"],
            unacked=counts["pending"],
        )

    def __repr__(self) -> str:
        return f"SqliteDeliveryLog({str(self.path)!r}, name={self.name!r}, {self._status})"
