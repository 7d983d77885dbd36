"""Which journal file a command uses, and opening it.

Read-only commands (``runs``, ``show``, ``export``) open the file read-only
(:func:`reading`): they never create, convert or migrate it. Commands that write
(``run``, ``resume``) check the file first (:func:`check_writable`), so a file that is not a
journal is refused before SQLite changes anything in it. Every problem is one
``runtree: error: ...`` line.

The read-only opening here stands in for the one the journal will offer
(``runtree.store``); it reuses ``SqliteRunStore``'s queries over a read-only connection.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from runtree.cli.console import fail
from runtree.store import SqliteRunStore, default_store_path
from runtree.store.errors import SchemaVersionError, StoreError
from runtree.store.schema import SCHEMA_VERSION, read_version

__all__ = ["DB_HELP", "check_writable", "journal_path", "reading"]

DB_HELP = (
    "The journal file (default: $RT_HOME/runtree.db, else the nearest .runtree/runtree.db "
    "in this folder or a parent)."
)

_SQLITE_MAGIC = b"SQLite format 3\x00"
#: the oldest schema the read-only commands can read without migrating (requests.attributes)
_OLDEST_READABLE = 4


def journal_path(db: Path | None) -> Path:
    """``--db``, else the default journal (see :func:`runtree.store.default_store_path`)."""
    return db if db is not None else default_store_path()


def _file_problem(path: Path) -> str | None:
    """What makes ``path`` unusable as an existing journal file, judged without SQLite."""
    if path.is_dir():
        return f"{path} is a folder, not a journal file"
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    if not head:
        return f"{path} is empty (0 bytes), not a runtree journal"
    if head != _SQLITE_MAGIC:
        return f"{path} is not a runtree journal (not an SQLite file)"
    return None


def _connect_read_only(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """A read-only connection. A WAL file in a read-only folder (where SQLite cannot make
    its shared-memory file, and where nobody can be writing) is opened as immutable."""
    uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"

    def connect(address: str) -> sqlite3.Connection:
        return sqlite3.connect(
            address, uri=True, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )

    conn = connect(uri)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        conn.close()
        if os.access(path.parent, os.W_OK):
            raise
        conn = connect(uri + "&immutable=1")
    return conn


def _is_damage(exc: BaseException | None) -> bool:
    """SQLite found the file damaged or not a database (not: busy, locked, I/O)."""
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError)


def _sqlite_problem(path: Path, exc: BaseException) -> str:
    if _is_damage(exc):
        return (
            f"{path} is damaged or not a journal ({exc}); choose another file with --db, or "
            "recover what is readable with: sqlite3 FILE .recover"
        )
    return f"cannot read {path}: {exc}"


def _check_version(path: Path, conn: sqlite3.Connection, *, writing: bool) -> None:
    try:
        version = read_version(conn)
    except StoreError as exc:
        raise StoreError(f"{path}: {exc}") from None
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path} was written by a newer runtree (journal schema {version}; this runtree "
            f"reads up to {SCHEMA_VERSION}): upgrade runtree, or choose another file",
            found=version,
            supported=SCHEMA_VERSION,
        )
    if version == 0 and not writing:
        raise StoreError(f"{path} is an empty SQLite database, not a runtree journal")
    if version < _OLDEST_READABLE and not writing:
        raise StoreError(
            f"{path} was written by an older runtree (journal schema {version}); a run "
            "(runtree run, or any session writing to it) upgrades it"
        )


class _ReadOnlyStore(SqliteRunStore):
    """``SqliteRunStore``'s queries over a read-only connection (writes are refused)."""

    def open(self) -> _ReadOnlyStore:
        problem = _file_problem(self.path)
        if problem is not None:
            raise StoreError(problem)
        try:
            conn = _connect_read_only(self.path, self.busy_timeout)
        except sqlite3.Error as exc:
            raise StoreError(_sqlite_problem(self.path, exc)) from None
        try:
            _check_version(self.path, conn, writing=False)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(_sqlite_problem(self.path, exc)) from None
        except BaseException:
            conn.close()
            raise
        self._reader_conn = conn
        self._status = "open"
        return self

    def _connect(self) -> sqlite3.Connection:
        return _connect_read_only(self.path, self.busy_timeout)


@contextlib.contextmanager
def reading(db: Path | None) -> Iterator[SqliteRunStore]:
    """The journal, open read-only for the command's body; any problem opening or reading
    it ends the command with one error line."""
    path = journal_path(db)
    if not path.exists() and not path.is_symlink():
        fail(f"no run journal at {path} (run something first, or choose one with --db)")
    store = _ReadOnlyStore(path)
    try:
        store.open()
    except StoreError as exc:
        fail(str(exc))
    try:
        yield store
    except StoreError as exc:
        cause = exc.__cause__
        fail(_sqlite_problem(path, cause) if isinstance(cause, sqlite3.Error) else str(exc))
    finally:
        store.close()


def check_writable(path: Path) -> None:
    """End the command with one error line if a run cannot be journaled in ``path``: a
    folder, an empty or foreign file, a damaged or newer journal, a read-only file or
    folder. A missing file is fine (it is created, with its folders)."""
    if path.exists() or path.is_symlink():
        problem = _file_problem(path)
        if problem is not None:
            fail(problem)
        try:
            conn = _connect_read_only(path, 10.0)
        except sqlite3.Error as exc:
            fail(_sqlite_problem(path, exc))
        try:
            _check_version(path, conn, writing=True)
        except sqlite3.Error as exc:
            fail(_sqlite_problem(path, exc))
        except StoreError as exc:
            fail(str(exc))
        finally:
            conn.close()
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
