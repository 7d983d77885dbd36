"""Which journal file a command uses, and opening it.

Read-only commands (``runs``, ``show``, ``export``) open the file with
``SqliteRunStore(readonly=True)`` (:func:`reading`): they never create, convert or migrate
it (an older journal is read through an upgraded copy in memory). Commands that write
(``run``, ``resume``) check the file first (:func:`check_writable`), so a file that is not a
journal is refused before SQLite changes anything in it. Every problem is one
``runtree: error: ...`` line, in the journal's own words (:mod:`runtree.store.file`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from runtree.cli.console import fail
from runtree.store import SqliteRunStore, check_journal, default_store_path
from runtree.store.errors import JournalFileError, StoreError

__all__ = ["DB_HELP", "check_writable", "journal_path", "reading"]

DB_HELP = (
    "The journal file (default: $RT_HOME/runtree.db, else the nearest .runtree/runtree.db "
    "in this folder or a parent)."
)


def journal_path(db: Path | None) -> Path:
    """``--db``, else the default journal (see :func:`runtree.store.default_store_path`)."""
    return db if db is not None else default_store_path()


def problem_line(exc: StoreError) -> str:
    """The error line for a journal problem (a missing journal gets the CLI's hint)."""
    if isinstance(exc, JournalFileError) and exc.problem == "missing":
        return f"{exc} (run something first, or choose one with --db)"
    return str(exc)


@contextlib.contextmanager
def reading(db: Path | None) -> Iterator[SqliteRunStore]:
    """The journal, open read-only for the command's body; any problem opening or reading
    it ends the command with one error line."""
    store = SqliteRunStore(journal_path(db), readonly=True)
    try:
        store.open()
    except StoreError as exc:
        fail(problem_line(exc))
    try:
        yield store
    except StoreError as exc:
        fail(str(exc))
    finally:
        store.close()


def check_writable(path: Path) -> None:
    """End the command with one error line if a run cannot be journaled in ``path``: a
    folder, an empty or foreign file, a damaged or newer journal, a read-only file or
    folder. A missing file is fine (it is created, with its folders)."""
    if path.exists() or path.is_symlink():
        try:
            check_journal(path, unversioned=True)
        except StoreError as exc:
            fail(problem_line(exc))
        if not os.access(path, os.W_OK):
            fail(f"{path} is read-only: a run cannot be journaled in it (choose another --db)")
        folder = path.parent
    else:
        folder = path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            fail(f"cannot create {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        fail(f"cannot journal in {folder}: the folder is read-only (choose another --db)")
