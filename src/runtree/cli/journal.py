"""Which journal file a command uses, and opening it."""

from __future__ import annotations

from pathlib import Path

from runtree.cli.console import fail
from runtree.errors import RuntreeError
from runtree.store import SqliteRunStore, default_store_path

__all__ = ["DB_HELP", "journal_path", "open_store"]

DB_HELP = "The journal file (default: $RT_HOME/runtree.db, else ./.runtree/runtree.db)."


def journal_path(db: Path | None) -> Path:
    return db if db is not None else default_store_path()


def open_store(db: Path | None) -> SqliteRunStore:
    path = journal_path(db)
    if not path.is_file():
        fail(f"no run journal at {path} (run something first, or choose one with --db)")
    try:
        return SqliteRunStore(path).open()
    except RuntreeError as exc:
        fail(str(exc))
