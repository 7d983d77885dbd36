"""The writer: back-pressure instead of loss, failures reported, the run row at open."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import runtree as rt
from runtree.store import SqliteRunStore, StoreError
from runtree.store.file import open_for_writing
from runtree.store.record import RunStarted
from runtree.store.writer import JournalWriter
from tests.store.nodes import Leaf

ROOT = Path(__file__).resolve().parents[2]


def _count(db: Path, sql: str, *params: object) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(sql, params).fetchone()[0])
    finally:
        conn.close()


def _run(run_id: str) -> RunStarted:
    return RunStarted(run_id, None, "running", 1.0, 1, "h", None, None, "batch", None, None, "0")


async def test_the_run_row_is_on_disk_when_the_session_opens(db: Path) -> None:
    store = SqliteRunStore(db, flush_interval=3600)  # batch writes would wait an hour
    async with rt.Session(store=store) as session:
        assert _count(db, "SELECT count(*) FROM runs WHERE run_id = ?", session.run_id) == 1


async def test_a_writer_that_falls_behind_slows_callers_and_loses_nothing(db: Path) -> None:
    store = SqliteRunStore(db, flush_interval=3600, max_pending=64)
    async with rt.Session(store=store) as session:
        for i in range(400):
            await rt.call(Leaf, i)
        # committed while the session runs: only what back-pressure allows is pending
        on_disk = _count(db, "SELECT count(*) FROM requests WHERE run_id = ?", session.run_id)
        assert on_disk >= 400 - 64
        assert session.journal is not None
        stats = session.journal.statistics().store
        assert stats.waits > 0 and stats.rows_lost == 0
    assert _count(db, "SELECT count(*) FROM requests WHERE status = 'succeeded'") == 400


def test_an_old_uncommitted_write_makes_the_next_caller_wait(db: Path) -> None:
    """The lag bound, with an injected clock: nothing here depends on real time."""
    now = [0.0]
    conn = open_for_writing(db, 10.0)
    writer = JournalWriter(
        conn,
        path=db,
        flush_interval=3600,
        max_pending=1_000,
        max_lag=1.0,
        max_batch=100,
        clock=lambda: now[0],
    )
    try:
        writer.put(_run("a"))
        now[0] = 0.5
        for i in range(40):  # younger than max_lag: queued, never waited for
            writer.put(_run(f"b{i}"))
        assert writer.waits == 0
        now[0] = 1.6
        for i in range(32):  # "a" is now older than max_lag: a caller waits (checked
            writer.put(_run(f"c{i}"))  # every 32 operations)
        assert writer.waits == 1
        assert _count(db, "SELECT count(*) FROM runs") >= 1 + 40 + 23
    finally:
        writer.close(10)


def _limit_pages(store: SqliteRunStore, extra: int) -> None:
    """Make the file full after ``extra`` more pages (SQLite's max_page_count)."""
    writer = store._writer
    assert writer is not None and writer._conn is not None
    conn = writer._conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + extra}")


async def test_writes_that_fail_make_the_session_raise_with_the_file_and_the_count(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def big(i: int) -> str:
        return "x" * 20_000 + str(i)

    with SqliteRunStore(db) as store:
        _limit_pages(store, 4)
        with pytest.raises(StoreError, match="journal rows? (was|were) lost") as caught:
            async with rt.Session(store=store) as session:
                await rt.call_batch(big, range(50))
        message = str(caught.value)
        assert str(db) in message and "disk is full" in message and "\n" not in message
        assert store.statistics().rows_lost > 0
        _limit_pages(store, 10_000)  # room again: the next run on this store is whole
        async with rt.Session(store=store) as later:
            await rt.call(big, 1)
        assert later.journal is not None
    assert any("could not be written" in r.message for r in caplog.records)  # logged at once
    assert session.journal is not None


async def test_with_sync_durability_a_failed_write_fails_the_call(db: Path) -> None:
    async def big(i: int) -> str:
        return "x" * 20_000 + str(i)

    with (
        SqliteRunStore(db) as store,
        pytest.raises(StoreError, match="journal rows? (was|were) lost"),
    ):  # reported again on exit
        async with rt.Session(store=store, durability="sync"):
            _limit_pages(store, 2)
            with pytest.raises(StoreError, match="disk is full"):
                for i in range(50):
                    await rt.call(big, i)


_FULL_DISK = """
    import sys
    import runtree as rt
    from runtree.store import StoreError

    async def big(i):
        return "x" * 30_000 + str(i)

    try:
        with rt.Session(store=sys.argv[1]) as session:
            rt.call_sync(rt.call_batch, big, range(200))
        print("NO ERROR")
    except StoreError as exc:
        print("STORE ERROR", exc)
"""


@pytest.mark.timeout(60)
def test_a_really_full_file_system(tmp_path: Path) -> None:
    """A 512 KiB tmpfs in a private mount namespace (where the machine allows one)."""
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        pytest.skip("needs util-linux unshare")
    mount = tmp_path / "small"
    mount.mkdir()
    script = (
        f"mount -t tmpfs -o size=512k tmpfs {mount} && "
        f"exec {sys.executable} -c '{textwrap.dedent(_FULL_DISK)}' {mount}/runtree.db"
    )
    done = subprocess.run(
        [unshare, "-rm", "sh", "-c", script],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=50,
    )
    if "mount" in done.stderr and done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert line.startswith("STORE ERROR") and "disk is full" in line, (line, done.stderr)
    assert "were lost" in line
