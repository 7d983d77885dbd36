"""``JournalCacheBackend``: node outputs cached in the run journal's file, so later runs on
the same file reuse them (``rt.CachePolicy(persist=True)``).

It implements :class:`runtree.policy.CacheBackend`. The session gives one to its run's
policies when it keeps a journal. Entries are rows of ``cache_entries`` (schema v6), by
namespace (the node) and the digest of the call's cache key: the output as JSON, and when
that JSON is not an exact copy of the value, a pickle sealed with the journal's key, as for
request outputs (:func:`runtree.store.value.encode_output`): a pickle that was changed is
refused, never loaded. A value that can be neither is not kept in the file (only in this
run's memory). Entries found or stored are also kept in memory for the rest of the run.

The backend opens its own connection to the file on first use (it reads and writes on the
session's loop, once per cache miss of a call with a persistent cache; hits within a run
come from memory) and closes it with the run. A failure of the file is logged and the
cache goes on in memory: a cache never fails a call.
"""

from __future__ import annotations

import json
import logging
import pickle
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtree.policy.cache import MemoryCacheBackend
from runtree.store.file import describe_sqlite_error, open_for_writing
from runtree.store.value import digest, encode_output, unseal

if TYPE_CHECKING:
    from runtree.store.journal import Journal

__all__ = ["JournalCacheBackend"]

logger = logging.getLogger("runtree.store")

_GET = "SELECT output, replay, expires FROM cache_entries WHERE namespace = ? AND key_digest = ?"
_PUT = (
    "INSERT OR REPLACE INTO cache_entries "
    "(namespace, key_digest, output, replay, stored_at, expires, run_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_DROP = "DELETE FROM cache_entries WHERE namespace = ? AND key_digest = ?"


class JournalCacheBackend:
    """A :class:`~runtree.policy.CacheBackend` in ``journal``'s file (memory in front)."""

    def __init__(
        self, journal: Journal, *, max_entries: int = 10_000, busy_timeout: float = 10.0
    ) -> None:
        self._journal = journal
        self._memory = MemoryCacheBackend(max_entries)
        self._busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._key: bytes | None = None
        self._max_chars = 0
        self._max_replay = 0
        #: ``unopened``, ``open``, ``closed``, or ``memory`` (no usable file: memory only)
        self.status = "unopened"
        self.stored = 0
        self.loaded = 0

    # -- CacheBackend ------------------------------------------------------------------------

    def get(self, namespace: str, key: str, *, now: float) -> tuple[bool, Any]:
        found, value = self._memory.get(namespace, key, now=now)
        if found:
            return found, value
        conn = self._connection()
        if conn is None:
            return False, None
        where = (namespace, digest(key))
        try:
            row = conn.execute(_GET, where).fetchone()
            if row is None:
                return False, None
            output, replay, expires = row
            if expires is not None and expires <= now:
                conn.execute(_DROP, where)
                return False, None
        except sqlite3.Error as exc:
            self._failed("read", exc)
            return False, None
        try:
            value = self._decode(output, replay)
        except Exception as exc:
            logger.warning("cache entry of %s in %s cannot be used: %s", namespace, self, exc)
            return False, None
        self.loaded += 1
        self._memory.put(
            namespace, key, value, now=now, ttl=None if expires is None else expires - now
        )
        return True, value

    def put(self, namespace: str, key: str, value: Any, *, now: float, ttl: float | None) -> None:
        self._memory.put(namespace, key, value, now=now, ttl=ttl)
        conn = self._connection()
        if conn is None:
            return
        output, replay, replayable = encode_output(
            value, max_chars=self._max_chars, max_replay_bytes=self._max_replay, key=self._key
        )
        if not replayable:  # neither exact JSON nor a pickle: it lives in memory only
            return
        row = (
            namespace,
            digest(key),
            output,
            replay,
            now,
            None if ttl is None else now + ttl,
            self._journal.run_id,
        )
        try:
            conn.execute(_PUT, row)
        except sqlite3.Error as exc:
            self._failed("write", exc)
            return
        self.stored += 1

    # -- the file ----------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is not None:
            return self._conn
        if self.status != "unopened":
            return None
        store = self._journal.store
        path = getattr(store, "path", None)
        if store is None or store.status != "open" or not isinstance(path, Path):
            self.status = "memory"
            logger.warning(
                "the run journal (%r) keeps no cache entries; persistent caches of run %s "
                "stay in memory",
                store,
                self._journal.run_id,
            )
            return None
        try:
            self._conn = open_for_writing(path, self._busy_timeout)
        except Exception as exc:
            self.status = "memory"
            logger.warning("cache entries cannot be kept in %s (%s); kept in memory", path, exc)
            return None
        self._key = store.replay_key
        self._max_chars = store.max_value_chars
        self._max_replay = store.max_replay_bytes
        self.status = "open"
        return self._conn

    def _decode(self, output: str | None, replay: bytes | None) -> Any:
        if replay is None:
            return None if output is None else json.loads(output)
        data = None if self._key is None else unseal(self._key, replay)
        if data is None:
            raise ValueError("its pickle is not sealed with this journal's key (changed?)")
        return pickle.loads(data)

    def _failed(self, action: str, exc: sqlite3.Error) -> None:
        logger.warning(
            "cannot %s a cache entry in %s: %s; the cache goes on in memory",
            action,
            self,
            describe_sqlite_error(exc),
        )
        self.close()
        self.status = "memory"

    def close(self) -> None:
        """Close the connection (the entries stay in the file)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        if self.status in ("unopened", "open"):
            self.status = "closed"

    def __repr__(self) -> str:
        return f"<JournalCacheBackend {self.status} for run {self._journal.run_id}>"
