"""Files that are not usable journals get one clear error line, and are never changed.

Covered for ``Session`` (writing) and ``SqliteRunStore(readonly=True)`` (what the CLI and
viewers use): a directory, a zero-length file, a file that is not SQLite, a SQLite file
that is not a journal, corrupt pages, a newer schema, a read-only file and a read-only
folder (these two run in a child process without the power to ignore permissions, since
the suite may run as root). Also: files are created private (0600) whatever the umask.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import runtree as rt
from runtree.store import SCHEMA_VERSION, SchemaVersionError, SqliteRunStore, StoreError
from runtree.store.file import key_path
from tests.store.nodes import Leaf

ROOT = Path(__file__).resolve().parents[2]


def _fingerprint(folder: Path) -> dict[str, str]:
    """Every file of the folder and the digest of its bytes. (A reader of a WAL journal may
    leave SQLite's shared-memory index and an empty WAL beside it: these hold no data.)"""
    return {
        entry.name: hashlib.sha256(entry.read_bytes()).hexdigest()
        for entry in sorted(folder.iterdir())
        if entry.is_file()
        and not entry.name.endswith("-shm")
        and not (entry.name.endswith("-wal") and entry.stat().st_size == 0)
    }


def _journal(path: Path, runs: int = 3) -> None:
    for _ in range(runs):
        with rt.Session(store=path) as session:
            rt.call_sync(Leaf, 1)
    assert session.journal is not None


def _one_line(error: BaseException, path: Path) -> str:
    text = str(error)
    assert "\n" not in text and str(path) in text, text
    return text


def _refused_everywhere(path: Path, match: str, error: type[Exception] = StoreError) -> None:
    """Session and the read-only store both refuse ``path``, and nothing changes."""
    before = _fingerprint(path.parent) if path.parent.exists() else {}
    with pytest.raises(error, match=match) as caught, rt.Session(store=path):
        pytest.fail("the session must not open")
    _one_line(caught.value, path)
    with pytest.raises(error, match=match) as caught:
        SqliteRunStore(path, readonly=True).open()
    _one_line(caught.value, path)
    after = _fingerprint(path.parent) if path.parent.exists() else {}
    assert after == before


def test_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "journal.db"
    folder.mkdir()
    _refused_everywhere(folder, "is a folder, not a journal file")


def test_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"shopping list\n" * 500)
    _refused_everywhere(path, r"is not a runtree journal \(not an SQLite file\)")


def test_a_sqlite_file_that_is_not_a_journal_is_detected_before_any_write(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    _refused_everywhere(path, "not a runtree journal")
    conn = sqlite3.connect(path)
    try:  # still in rollback-journal mode: never switched to WAL
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        conn.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop.db"]


def test_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    _journal(path, runs=1)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("UPDATE runtree_schema SET version = ?", (SCHEMA_VERSION + 1,))
    conn.close()
    _refused_everywhere(path, "was written by a newer runtree", SchemaVersionError)


def _corrupt_requests(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        roots = [  # the table and its indexes (a count may read an index alone)
            row[0]
            for row in conn.execute(
                "SELECT rootpage FROM sqlite_master WHERE tbl_name = 'requests' AND rootpage > 0"
            )
        ]
    finally:
        conn.close()
    with open(path, "r+b") as handle:
        for root in roots:
            handle.seek((root - 1) * page_size)
            handle.write(b"\xa5" * page_size)


def test_corrupt_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "runtree.db"
    _journal(path)
    _corrupt_requests(path)
    _refused_everywhere(path, "is damaged")
    # a file too big to check at open: the query that meets the bad page says so
    monkeypatch.setattr("runtree.store.file.QUICK_CHECK_BYTES", 0)
    before = _fingerprint(tmp_path)
    with SqliteRunStore(path, readonly=True) as store:
        with pytest.raises(StoreError, match="is damaged") as caught:
            store.list_runs()
        _one_line(caught.value, path)
    assert _fingerprint(tmp_path) == before


def test_a_zero_length_file_is_not_turned_into_a_journal_by_a_read(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(StoreError, match=r"is empty \(0 bytes\)") as caught:
        SqliteRunStore(path, readonly=True).open()
    _one_line(caught.value, path)
    assert path.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]
    # a session may make it its journal: an empty file holds nothing to lose
    with rt.Session(store=path) as session:
        rt.call_sync(Leaf, 1)
    with SqliteRunStore(path, readonly=True) as store:
        assert store.get_run(session.run_id).status == "succeeded"


def test_a_missing_file_is_not_created_by_a_read(tmp_path: Path) -> None:
    path = tmp_path / "nothing" / "here.db"
    with pytest.raises(StoreError, match="no run journal") as caught:
        SqliteRunStore(path, readonly=True).open()
    _one_line(caught.value, path)
    assert not path.parent.exists()


def test_readonly_store_reads_and_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "runtree.db"
    _journal(path, runs=2)
    before = _fingerprint(tmp_path)
    with SqliteRunStore(path, readonly=True) as store:
        runs = store.list_runs()
        assert len(runs) == 2
        assert [r.output for r in store.get_requests(runs[0].run_id)] == [2]
        with pytest.raises(StoreError, match="read-only"):
            store.mark_crashed(runs[0].run_id)
    assert _fingerprint(tmp_path) == before


def test_an_older_schema_is_read_without_migrating_the_file(tmp_path: Path) -> None:
    from runtree.store.schema import migrate, read_version

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=1)
    conn.execute(
        "INSERT INTO runs (run_id, name, status, start_time) VALUES ('old', 'v1', 'succeeded', 1)"
    )
    conn.close()
    before = _fingerprint(tmp_path)
    with SqliteRunStore(path, readonly=True) as store:
        assert store.get_run("old").name == "v1"
    assert _fingerprint(tmp_path) == before
    conn = sqlite3.connect(path)
    try:
        assert read_version(conn) == 1
    finally:
        conn.close()


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_journal_files_and_the_key_are_private_whatever_the_umask(
    tmp_path: Path, umask: int
) -> None:
    path = tmp_path / "private" / "runtree.db"
    old = os.umask(umask)
    try:
        with rt.Session(store=path, durability="sync") as session:
            rt.call_sync(Leaf, 1)
            companions = [Path(f"{path}-wal"), Path(f"{path}-shm")]
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [path, *companions]}
    finally:
        os.umask(old)
    modes[key_path(path).name] = stat.S_IMODE(key_path(path).stat().st_mode)
    assert set(modes.values()) == {0o600}, modes
    assert session.journal is not None
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0


# -- permissions: a child process that cannot ignore them (root can) --------------------------


def _unprivileged(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: file permissions cannot be tested")
        prefix = [setpriv, "--inh-caps=-all", "--bounding-set=-all"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [*prefix, sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


_CHILD = """
    import sys
    import runtree as rt
    from runtree.store import SqliteRunStore, StoreError
    from tests.store.nodes import Leaf

    path = sys.argv[-1] if len(sys.argv) > 1 else "runtree.db"
    try:
        with rt.Session(store=path, durability="sync") as session:
            rt.call_sync(Leaf, 1)
        print("SESSION OK")
    except StoreError as exc:
        print("SESSION REFUSED", exc)
    with SqliteRunStore(path, readonly=True) as store:
        print("READ", len(store.list_runs()))
"""


def test_a_read_only_file(tmp_path: Path) -> None:
    path = tmp_path / "runtree.db"
    _journal(path, runs=2)
    path.chmod(0o444)
    before = _fingerprint(tmp_path)
    done = _unprivileged(_CHILD, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("SESSION REFUSED") and "read-only" in lines[0], lines
    assert lines[1] == "READ 2"
    assert _fingerprint(tmp_path) == before


def test_a_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "frozen"
    folder.mkdir()
    path = folder / "runtree.db"
    _journal(path, runs=2)
    folder.chmod(0o555)
    try:
        before = _fingerprint(folder)
        done = _unprivileged(_CHILD, folder)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines[0].startswith("SESSION REFUSED"), lines
        assert lines[1] == "READ 2"
        assert _fingerprint(folder) == before
    finally:
        folder.chmod(0o755)
