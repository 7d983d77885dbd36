"""The journal's SQLite schema and its migrations.

The version lives in the one-row table ``runtree_schema``. A new, empty file is version 0.
``MIGRATIONS[i]`` takes a file from version ``i`` to ``i + 1``; :func:`migrate` applies the
missing steps in one ``BEGIN IMMEDIATE`` transaction, so two processes opening the same old
file do not migrate it twice. A file with a newer version than :data:`SCHEMA_VERSION` is
refused (:class:`SchemaVersionError`): an older runtree must not write rows it does not
understand.

History:

* 1: ``runs`` and ``requests``.
* 2: replay data (resume), ``events`` (broadcast items, fatal failures), the run's root
  call, owning process marker, durability, ``resumed_from``.
* 3: ``deliveries``: the messages of reliable senders (:class:`SqliteDeliveryLog`), so
  unacknowledged ones survive a crash.
* 4: ``requests.attributes``: what a node reported about itself (JSON: model, token usage,
  tool name... in OpenTelemetry-style names); indexes by creation order and by parent, so
  readers page through a large run without scanning it.
* 5: ``root_targets``: how to call a run's root calls again (``runtree resume``): for each
  node name called at the root, the node's ``module:qualname`` and the file of its module.
  A row with ``request_id = ''`` covers every root call of that name in the run; a row with
  a request id covers only that call (two classes of one name were called at the root).
* 6: ``cache_entries``: node outputs kept by ``CachePolicy(persist=True)`` so later runs
  reuse them (:class:`~runtree.store.cache.JournalCacheBackend`): by namespace (the node)
  and the digest of the call's cache key; the output as JSON, plus a sealed pickle when the
  JSON is not an exact copy (as request outputs); ``expires`` in epoch seconds or NULL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from runtree.store.errors import JournalFileError, SchemaVersionError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate", "read_version"]


def _v1(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE runtree_schema (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO runtree_schema (version) VALUES (0)")
    conn.execute(
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            name TEXT,
            status TEXT NOT NULL,
            start_time REAL NOT NULL,
            end_time REAL,
            pid INTEGER,
            host TEXT,
            error TEXT
        )"""
    )
    conn.execute("CREATE INDEX runs_by_start ON runs (start_time)")
    conn.execute(
        """CREATE TABLE requests (
            run_id TEXT NOT NULL,
            request_id TEXT NOT NULL,
            seq INTEGER,
            parent_id TEXT,
            node_name TEXT NOT NULL,
            mode TEXT,
            status TEXT NOT NULL,
            inputs TEXT,
            output TEXT,
            error TEXT,
            start_time REAL,
            end_time REAL,
            PRIMARY KEY (run_id, request_id)
        ) WITHOUT ROWID"""
    )


def _v2(conn: sqlite3.Connection) -> None:
    for column in (
        "process_marker TEXT",
        "resumed_from TEXT",
        "durability TEXT",
        "root_node TEXT",
        "root_inputs TEXT",
        "runtree_version TEXT",
    ):
        conn.execute(f"ALTER TABLE runs ADD COLUMN {column}")
    for column in (
        "replay BLOB",
        "replayable INTEGER NOT NULL DEFAULT 0",
        "replayed INTEGER NOT NULL DEFAULT 0",
    ):
        conn.execute(f"ALTER TABLE requests ADD COLUMN {column}")
    conn.execute(
        """CREATE TABLE events (
            run_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            request_id TEXT,
            kind TEXT NOT NULL,
            payload TEXT,
            time REAL NOT NULL,
            PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID"""
    )


def _v3(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE deliveries (
            log TEXT NOT NULL,
            message_id TEXT NOT NULL,
            message TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL,
            reason TEXT,
            error_type TEXT,
            sent_at REAL NOT NULL,
            settled_at REAL,
            PRIMARY KEY (log, message_id)
        ) WITHOUT ROWID"""
    )
    conn.execute("CREATE INDEX deliveries_by_status ON deliveries (log, status, sent_at)")


def _v4(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE requests ADD COLUMN attributes TEXT")
    # pages of a run's requests in creation order, and of one request's children
    conn.execute("CREATE INDEX requests_by_seq ON requests (run_id, seq)")
    conn.execute("CREATE INDEX requests_by_parent ON requests (run_id, parent_id, seq)")


def _v5(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE root_targets (
            run_id TEXT NOT NULL,
            node_name TEXT NOT NULL,
            request_id TEXT NOT NULL DEFAULT '',
            target TEXT NOT NULL,
            file TEXT,
            PRIMARY KEY (run_id, node_name, request_id)
        ) WITHOUT ROWID"""
    )


def _v6(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE cache_entries (
            namespace TEXT NOT NULL,
            key_digest TEXT NOT NULL,
            output TEXT,
            replay BLOB,
            stored_at REAL NOT NULL,
            expires REAL,
            run_id TEXT,
            PRIMARY KEY (namespace, key_digest)
        ) WITHOUT ROWID"""
    )


#: ``MIGRATIONS[i]`` upgrades a file from version ``i`` to ``i + 1``.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1, _v2, _v3, _v4, _v5, _v6)
SCHEMA_VERSION = len(MIGRATIONS)


def read_version(conn: sqlite3.Connection) -> int:
    """The schema version of the open file (0 for an empty file)."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "runtree_schema" not in tables:
        if tables:
            raise JournalFileError(
                "this SQLite file is not a runtree journal (it has tables "
                f"{sorted(tables)[:5]} but no runtree_schema); choose another file",
                problem="not_journal",
            )
        return 0
    row = conn.execute("SELECT version FROM runtree_schema").fetchone()
    if row is None or not isinstance(row[0], int):
        raise JournalFileError(
            "runtree journal has a damaged runtree_schema table", problem="damaged"
        )
    return int(row[0])


def migrate(conn: sqlite3.Connection, *, target: int = SCHEMA_VERSION) -> int:
    """Bring the file to ``target`` (default: the current version); return the old version.

    ``conn`` must be in autocommit mode (``isolation_level=None``).
    """
    version = read_version(conn)
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"the journal has schema version {version}, newer than this runtree understands "
            f"({SCHEMA_VERSION}); upgrade runtree or use another file (RT_HOME / store=)",
            found=version,
            supported=SCHEMA_VERSION,
        )
    if version >= target:
        return version
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = read_version(conn)  # another process may have migrated meanwhile
        for step in range(version, target):
            MIGRATIONS[step](conn)
            conn.execute("UPDATE runtree_schema SET version = ?", (step + 1,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return version
