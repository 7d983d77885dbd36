"""The run journal: every request of a run, persisted as it happens (SQLite by default).

``rt.Session()`` journals to ``$RT_HOME/runtree.db`` (else the nearest ``.runtree/runtree.db``);
``Session(store=path_or_store)`` chooses another journal, ``store=None`` turns it off,
``durability="sync"`` makes each completed request durable before its caller sees the
result, and ``Session(resume=run_id)`` answers the requests that completed in an earlier run
from the journal instead of running them again. ``SqliteDeliveryLog`` keeps a reliable
sender's unacknowledged messages in the same file. ``SqliteRunStore(path, readonly=True)``
and ``open_readonly(path)`` (a plain read-only ``sqlite3`` connection, for your own
queries) read a journal without ever changing it. See ``docs/journal.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtree._lazy import lazy_exports

if TYPE_CHECKING:
    from runtree.store.delivery import SqliteDeliveryLog
    from runtree.store.errors import (
        JournalFileError,
        ResumeError,
        RunNotFoundError,
        SchemaVersionError,
        StoreError,
    )
    from runtree.store.file import check_journal, open_readonly
    from runtree.store.journal import (
        DEFAULT_STORE,
        Journal,
        JournalStatistics,
        default_store_path,
    )
    from runtree.store.protocol import RunStore
    from runtree.store.record import (
        DURABILITIES,
        RUN_STATUSES,
        RunInfo,
        StoredEvent,
        StoredRequest,
        StoreStatistics,
    )
    from runtree.store.schema import SCHEMA_VERSION
    from runtree.store.sqlite import SqliteRunStore

# Imported on first use: a session needs only the journal, not the readers and the CLI's parts.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "delivery": ("SqliteDeliveryLog",),
    "errors": (
        "JournalFileError",
        "ResumeError",
        "RunNotFoundError",
        "SchemaVersionError",
        "StoreError",
    ),
    "file": ("check_journal", "open_readonly"),
    "journal": (
        "DEFAULT_STORE",
        "Journal",
        "JournalStatistics",
        "default_store_path",
    ),
    "protocol": ("RunStore",),
    "record": (
        "DURABILITIES",
        "RUN_STATUSES",
        "RunInfo",
        "StoredEvent",
        "StoredRequest",
        "StoreStatistics",
    ),
    "schema": ("SCHEMA_VERSION",),
    "sqlite": ("SqliteRunStore",),
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = [
    "DEFAULT_STORE",
    "DURABILITIES",
    "Journal",
    "JournalFileError",
    "JournalStatistics",
    "RUN_STATUSES",
    "ResumeError",
    "RunInfo",
    "RunNotFoundError",
    "RunStore",
    "SCHEMA_VERSION",
    "SchemaVersionError",
    "SqliteDeliveryLog",
    "SqliteRunStore",
    "StoreError",
    "StoreStatistics",
    "StoredEvent",
    "StoredRequest",
    "check_journal",
    "default_store_path",
    "open_readonly",
]
