"""Opening journal files: created atomically and private, checked before anything is changed.

Two ways in:

* :func:`open_for_writing` (sessions, delivery logs): a missing file is built complete under a
  temporary name and linked into place, so no process ever sees a half-made journal and two
  processes creating one file at the same moment both succeed (one wins, the other opens
  the winner's file). The file, its ``-wal``/``-shm`` companions and the replay key are
  created ``0600`` whatever the umask. An existing file is checked first (a directory, not
  SQLite, not a journal, corrupt, newer schema, read-only): any of these is one
  :class:`StoreError` line naming the file, and the file is left exactly as it was.
* :func:`open_readonly` (``SqliteRunStore(readonly=True)``: the CLI, the viewer,
  ``Session.info`` after a run): a ``mode=ro`` connection that never creates, converts or
  migrates. An older schema is read from an in-memory copy migrated there; a journal in a
  read-only folder is read as it is. :func:`check_journal` checks a file the same way.

Every problem is one line naming the file (:class:`JournalFileError` says which problem).

The replay key (:func:`replay_key`) authenticates the pickles a journal keeps for resume; it
lives beside the journal as ``<file>.key``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import urllib.parse
from pathlib import Path

from runtree.store.errors import JournalFileError, SchemaVersionError, StoreError
from runtree.store.schema import SCHEMA_VERSION, migrate, read_version

__all__ = [
    "KEY_SUFFIX",
    "check_journal",
    "describe_sqlite_error",
    "open_for_writing",
    "open_readonly",
    "replay_key",
    "sqlite_problem",
]

_HEADER = b"SQLite format 3\x00"
#: a file up to this size has all its pages checked (``PRAGMA quick_check``, about 3 ms per
#: MiB) when it is opened; a larger one is checked page by page as it is used (any query
#: that meets a corrupt page fails with a StoreError saying so)
QUICK_CHECK_BYTES = 8 * 1024 * 1024
KEY_SUFFIX = ".key"
_KEY_BYTES = 32
_PRIVATE = 0o600


def _name(path: Path) -> str:
    return repr(str(path))


def describe_sqlite_error(exc: BaseException) -> str:
    """What a SQLite error means for a journal, in words a user can act on."""
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if "malformed" in lowered or "corrupt" in lowered:
        return f"the file is corrupt ({text}); move it away and start a new journal"
    if "not a database" in lowered or "encrypted" in lowered:
        return f"the file is not a SQLite database ({text})"
    if "readonly" in lowered or "read-only" in lowered:
        return f"the file or its folder is read-only ({text})"
    if "disk is full" in lowered or "database or disk is full" in lowered:
        return f"the disk is full ({text})"
    if "locked" in lowered or "busy" in lowered:
        return f"another process kept the file locked ({text})"
    if "unable to open" in lowered:
        return f"it cannot be opened ({text}); check the path and its folder's permissions"
    return text


_DAMAGE_WORDS = ("malformed", "corrupt", "not a database", "encrypted")


def sqlite_problem(path: Path, exc: sqlite3.Error, action: str = "read") -> JournalFileError:
    """The one-line error for a SQLite failure while opening or reading the journal
    ``path``: damaged, locked, or another reason in :func:`describe_sqlite_error`'s words."""
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if any(word in lowered for word in _DAMAGE_WORDS):
        return _damaged(path, text)
    if "locked" in lowered or "busy" in lowered:
        return JournalFileError(
            f"{path} is locked by another process ({text}); try again in a moment",
            problem="locked",
        )
    return JournalFileError(f"cannot {action} {path}: {describe_sqlite_error(exc)}")


def _damaged(path: Path, detail: str) -> JournalFileError:
    return JournalFileError(
        f"{path} is damaged ({detail}); move it away and start a new journal, or recover "
        "what is readable with: sqlite3 FILE .recover",
        problem="damaged",
    )


def _check_shape(path: Path, *, allow_empty: bool) -> int:
    """Refuse what cannot be a journal without opening it with SQLite. Returns the size."""
    if path.is_dir():
        raise JournalFileError(f"{path} is a folder, not a journal file", problem="folder")
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_HEADER))
            size = os.fstat(handle.fileno()).st_size
    except FileNotFoundError:
        raise JournalFileError(f"no run journal at {path}", problem="missing") from None
    except OSError as exc:
        raise JournalFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if size == 0:
        if allow_empty:
            return 0
        raise JournalFileError(f"{path} is empty (0 bytes), not a runtree journal", problem="empty")
    if head != _HEADER:
        raise JournalFileError(
            f"{path} is not a runtree journal (not an SQLite file)", problem="not_journal"
        )
    return size


def _check_schema(conn: sqlite3.Connection, path: Path) -> int:
    """The journal's schema version; refuses a foreign or newer file (reads only)."""
    try:
        version = read_version(conn)
    except JournalFileError as exc:
        raise JournalFileError(f"{path}: {exc}", problem=exc.problem) from None
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path} was written by a newer runtree (journal schema {version}; this runtree "
            f"reads up to {SCHEMA_VERSION}): upgrade runtree, or choose another file",
            found=version,
            supported=SCHEMA_VERSION,
        )
    return version


# -- writing ---------------------------------------------------------------------------------


def _make_private(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.chmod(path, _PRIVATE)


def _connect(target: str | Path, busy_timeout: float, *, uri: bool = False) -> sqlite3.Connection:
    return sqlite3.connect(
        target, timeout=busy_timeout, isolation_level=None, check_same_thread=False, uri=uri
    )


def _initialise(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Schema at the current version, WAL mode (kept in the file's header)."""
    _retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL"), busy_timeout)
    migrate(conn)


def _retry_busy(step: object, busy_timeout: float) -> None:
    """Run ``step()``, retrying while another process holds a lock (``PRAGMA journal_mode``
    does not always wait on its own)."""
    assert callable(step)
    deadline = time.monotonic() + max(busy_timeout, 0.1)
    delay = 0.001
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def _create_atomically(path: Path, busy_timeout: float) -> None:
    """Build a complete journal under a temporary name and link it into place (first one
    wins; a loser leaves the winner's file alone)."""
    folder = path.parent
    if not folder.exists():
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreError(
                f"cannot create run journal {_name(path)}: its folder cannot be made "
                f"({exc.strerror or exc})"
            ) from exc
    temporary = folder / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE)
    except OSError as exc:
        raise StoreError(
            f"cannot create run journal {_name(path)}: {exc.strerror or exc} (in {str(folder)!r})"
        ) from exc
    try:
        os.fchmod(fd, _PRIVATE)  # whatever the umask
        os.close(fd)
        conn = _connect(temporary, busy_timeout)
        try:
            _initialise(conn, busy_timeout)
        finally:
            conn.close()
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        except OSError:
            # a file system without hard links: move it into place unless one appeared
            if not path.exists():
                os.replace(temporary, path)
    except sqlite3.Error as exc:
        raise sqlite_problem(path, exc, "create") from exc
    except OSError as exc:
        raise StoreError(f"cannot create run journal {_name(path)}: {exc.strerror or exc}") from exc
    finally:
        for leftover in (temporary, Path(f"{temporary}-wal"), Path(f"{temporary}-shm")):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)


def open_for_writing(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """An autocommit connection to the journal ``path`` (created if missing, migrated if
    older), in WAL mode and checked writable. Refuses, without changing it, a file that is
    not a journal, is corrupt, is newer, or cannot be written."""
    if not path.exists() and not path.is_symlink():
        _create_atomically(path, busy_timeout)
    size = _check_shape(path, allow_empty=True)
    try:
        conn = _connect(path, busy_timeout)
    except sqlite3.Error as exc:
        raise sqlite_problem(path, exc, "open") from exc
    try:
        version = _check_schema(conn, path)
        if 0 < size <= QUICK_CHECK_BYTES:
            _quick_check(conn, path)
        if size == 0 or version == 0:
            # an empty file someone made for us (or a journal that never got its schema)
            _initialise(conn, busy_timeout)
        else:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                _retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL"), busy_timeout)
            if version < SCHEMA_VERSION:
                migrate(conn)
        # can we write at all? (a read-only file, folder or file system says so here)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        conn.execute("PRAGMA synchronous = NORMAL")
    except StoreError:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        raise sqlite_problem(path, exc, "write") from exc
    return conn


def _quick_check(conn: sqlite3.Connection, path: Path) -> None:
    problems = [  # one line: SQLite puts several findings in one row, separated by newlines
        " ".join(str(row[0]).split()) for row in conn.execute("PRAGMA quick_check(3)").fetchall()
    ]
    if problems != ["ok"]:
        raise _damaged(path, "; ".join(problems)[:200])


# -- reading ---------------------------------------------------------------------------------


def _ro_uri(path: Path, *, immutable: bool = False) -> str:
    quoted = urllib.parse.quote(str(path.resolve()))
    return f"file:{quoted}?mode=ro" + ("&immutable=1" if immutable else "")


def _has_wal(path: Path) -> bool:
    try:
        return os.path.getsize(f"{path}-wal") > 0
    except OSError:
        return False


def check_journal(
    path: str | os.PathLike[str], busy_timeout: float = 10.0, *, unversioned: bool = False
) -> int:
    """Check, reading only, that the existing file ``path`` is a journal this runtree can
    use, and return its schema version (``0``: a SQLite file without tables, accepted only
    if ``unversioned``; a session makes it a journal). Raises what :func:`open_readonly`
    raises."""
    conn, version = _open_checked(Path(path), busy_timeout, unversioned=unversioned)
    conn.close()
    return version


def open_readonly(path: str | os.PathLike[str], busy_timeout: float = 10.0) -> sqlite3.Connection:
    """A read-only connection to the journal ``path``; never creates, converts or migrates
    the file. An older journal is read through a copy in memory brought to the current
    schema. Raises :class:`StoreError` (one line naming the file; :class:`JournalFileError`
    says why, :class:`SchemaVersionError` for a newer journal) if it cannot be read as a
    journal. Close it when done (``contextlib.closing``)."""
    path = Path(path)
    conn, version = _open_checked(path, busy_timeout, unversioned=False)
    if version == SCHEMA_VERSION:
        return conn
    try:
        copy = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        try:
            conn.backup(copy)
            migrate(copy)
        except BaseException:
            copy.close()
            raise
    except sqlite3.Error as exc:
        raise sqlite_problem(path, exc) from exc
    finally:
        conn.close()
    return copy


def _open_checked(
    path: Path, busy_timeout: float, *, unversioned: bool
) -> tuple[sqlite3.Connection, int]:
    """A ``mode=ro`` connection to ``path``, checked: a journal of a schema this runtree
    reads, intact (whole if small; see ``QUICK_CHECK_BYTES``)."""
    size = _check_shape(path, allow_empty=False)
    conn: sqlite3.Connection | None = None
    try:
        try:
            conn = _connect(_ro_uri(path), busy_timeout, uri=True)
            version = _check_schema(conn, path)
        except sqlite3.OperationalError:
            # a WAL journal in a read-only folder, where SQLite cannot make its -shm file and
            # nobody can be writing: with no -wal to merge, the file alone is the journal
            if conn is not None:
                conn.close()
                conn = None
            if os.access(path.parent, os.W_OK) or _has_wal(path):
                raise
            conn = _connect(_ro_uri(path, immutable=True), busy_timeout, uri=True)
            version = _check_schema(conn, path)
        if version == 0 and not unversioned:
            raise JournalFileError(
                f"{path} is an empty SQLite database, not a runtree journal", problem="empty"
            )
        if version:
            conn.execute("SELECT count(*) FROM runs LIMIT 1").fetchone()  # touches the data
        if size <= QUICK_CHECK_BYTES:
            _quick_check(conn, path)
    except BaseException as exc:
        if conn is not None:
            conn.close()
        if isinstance(exc, sqlite3.Error):
            raise sqlite_problem(path, exc) from exc
        raise
    return conn, version


# -- the replay key --------------------------------------------------------------------------


def key_path(journal: Path) -> Path:
    return journal.with_name(journal.name + KEY_SUFFIX)


def replay_key(journal: Path, *, create: bool) -> bytes | None:
    """The secret that authenticates the journal's replay pickles (``<file>.key``, 0600).

    Created atomically (first one wins) when ``create``; ``None`` if there is none and
    ``create`` is false.
    """
    path = key_path(journal)
    try:
        return _read_key(path)
    except FileNotFoundError:
        if not create:
            return None
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE)
        try:
            os.fchmod(fd, _PRIVATE)
            os.write(fd, os.urandom(_KEY_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    except OSError as exc:
        raise StoreError(
            f"cannot create the replay key {str(path)!r} of run journal {_name(journal)}: "
            f"{exc.strerror or exc}"
        ) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    with open(path, "rb") as handle:
        key = handle.read(_KEY_BYTES + 1)
    if len(key) != _KEY_BYTES:
        raise StoreError(
            f"the replay key {str(path)!r} is damaged ({len(key)} bytes, expected {_KEY_BYTES})"
        )
    return key


__all__ += ["key_path"]
