"""The run journal: every request of a run, persisted as it happens (SQLite by default).

``rt.Session()`` journals to ``$RT_HOME/runtree.db`` (else ``./.runtree/runtree.db``);
``Session(store=path_or_store)`` chooses another journal, ``store=None`` turns it off,
``durability="sync"`` makes each completed request durable before its caller sees the
result, and ``Session(resume=run_id)`` answers the requests that completed in an earlier run
from the journal instead of running them again. See ``docs/journal.md``.
"""

from __future__ import annotations

from runtree.store.errors import ResumeError, RunNotFoundError, SchemaVersionError, StoreError
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

__all__ = [
    "DEFAULT_STORE",
    "DURABILITIES",
    "Journal",
    "JournalStatistics",
    "RUN_STATUSES",
    "ResumeError",
    "RunInfo",
    "RunNotFoundError",
    "RunStore",
    "SCHEMA_VERSION",
    "SchemaVersionError",
    "SqliteRunStore",
    "StoreError",
    "StoreStatistics",
    "StoredEvent",
    "StoredRequest",
    "default_store_path",
]
