"""SqliteRunStore on its own: lifecycle, schema versions, writes, reads, statistics."""

from __future__ import annotations

import pickle
import sqlite3
import time
from pathlib import Path

import pytest

from runtree.errors import ConfigurationError, RuntreeError, SessionStateError
from runtree.store import (
    SCHEMA_VERSION,
    ResumeError,
    RunNotFoundError,
    SchemaVersionError,
    SqliteRunStore,
    StoreError,
)
from runtree.store.record import (
    EventRecorded,
    RequestEnded,
    RequestStarted,
    RunEnded,
    RunStarted,
)
from runtree.store.schema import migrate, read_version


def _run(run_id: str, *, pid: int = 1, host: str = "elsewhere", start: float = 1.0) -> RunStarted:
    return RunStarted(
        run_id, "test", "running", start, pid, host, None, None, "batch", None, None, "0"
    )


def test_open_creates_the_folder_and_a_wal_file_at_the_current_version(db: Path) -> None:
    with SqliteRunStore(db) as store:
        assert store.status == "open"
    assert store.status == "closed"
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert read_version(conn) == SCHEMA_VERSION
    finally:
        conn.close()


def test_a_store_is_opened_once_and_unusable_after_close(db: Path) -> None:
    store = SqliteRunStore(db).open()
    with pytest.raises(SessionStateError, match="is open"):
        store.open()
    store.close()
    store.close()  # idempotent
    with pytest.raises(SessionStateError, match="closed"):
        store.list_runs()
    with pytest.raises(SessionStateError, match="closed"):
        store.write(_run("gone"))  # misuse is an error, never a silent drop


def test_bad_options_are_configuration_errors(db: Path) -> None:
    with pytest.raises(ConfigurationError, match="max_value_chars"):
        SqliteRunStore(db, max_value_chars=0)
    with pytest.raises(ConfigurationError, match="flush_interval"):
        SqliteRunStore(db, flush_interval=-1)


def test_an_older_file_is_migrated_and_keeps_its_rows(db: Path) -> None:
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db, isolation_level=None)
    migrate(conn, target=1)
    conn.execute(
        "INSERT INTO runs (run_id, name, status, start_time, end_time, pid, host) "
        "VALUES ('old', 'v1 run', 'succeeded', 1.0, 2.0, 1, 'h')"
    )
    conn.execute(
        "INSERT INTO requests (run_id, request_id, seq, node_name, status, inputs, output) "
        "VALUES ('old', 'old-1', 1, 'Leaf', 'succeeded', '{\"args\":[1],\"kwargs\":{}}', '2')"
    )
    assert read_version(conn) == 1
    conn.close()
    with SqliteRunStore(db) as store:
        run = store.get_run("old")
        assert (run.name, run.status, run.request_count) == ("v1 run", "succeeded", 1)
        (request,) = store.get_requests("old")
        assert (request.node_name, request.output, request.replayed) == ("Leaf", 2, False)
        assert store.get_events("old") == []
    conn = sqlite3.connect(db)
    try:
        assert read_version(conn) == SCHEMA_VERSION
    finally:
        conn.close()


def test_a_newer_file_is_refused_with_a_clear_error(db: Path) -> None:
    with SqliteRunStore(db):
        pass
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("UPDATE runtree_schema SET version = ?", (SCHEMA_VERSION + 5,))
    conn.close()
    store = SqliteRunStore(db)
    with pytest.raises(SchemaVersionError, match="was written by a newer runtree") as caught:
        store.open()
    assert caught.value.found == SCHEMA_VERSION + 5
    assert caught.value.supported == SCHEMA_VERSION
    assert store.status == "unopened"


def test_a_foreign_sqlite_file_is_refused(db: Path) -> None:
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a runtree journal"):
        SqliteRunStore(db).open()


def test_a_file_that_is_not_sqlite_is_a_store_error(db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match=r"not a runtree journal \(not an SQLite file\)"):
        SqliteRunStore(db).open()


def test_rows_are_merged_within_a_batch_and_updated_across_batches(db: Path) -> None:
    with SqliteRunStore(db) as store:
        store.write(_run("r1"))
        store.write(
            RequestStarted("r1", "a", 1, None, "Root", "async", '{"args":[],"kwargs":{}}', 1.0)
        )
        store.write(
            RequestStarted("r1", "b", 2, "a", "Leaf", "async", '{"args":[1],"kwargs":{}}', 1.1)
        )
        store.write(RequestEnded("succeeded", "2", None, 1, None, 1.2, 0, None, "r1", "b"))
        assert store.flush(timeout=10)
        assert [r.status for r in store.get_requests("r1")] == ["running", "succeeded"]
        store.write(RequestEnded("failed", None, None, 0, '{"type":"X"}', 1.3, 0, None, "r1", "a"))
        store.write(EventRecorded("r1", 1, "b", "stream", '"hello"', 1.15))
        store.write(RunEnded("failed", 2.0, "X: boom", "r1"))
        root, leaf = store.get_requests("r1")
        assert (root.status, root.error, root.end_time) == ("failed", {"type": "X"}, 1.3)
        assert (leaf.parent_id, leaf.inputs, leaf.output) == ("a", {"args": [1], "kwargs": {}}, 2)
        assert leaf.duration == pytest.approx(0.1)
        (event,) = store.get_events("r1")
        assert (event.kind, event.payload, event.request_id) == ("stream", "hello", "b")
        run = store.get_run("r1")
        assert (run.status, run.error, run.end_time, run.request_count) == (
            "failed",
            "X: boom",
            2.0,
            2,
        )
        stats = store.statistics()
    assert stats.rows_written == 6  # run, root, merged leaf; then update, event, run end
    assert stats.errors == 0 and stats.pending == 0 and stats.flushes >= 2


def test_the_writer_commits_on_its_own_within_the_flush_interval(db: Path) -> None:
    with SqliteRunStore(db, flush_interval=0.05) as store:
        store.write(_run("soon"))
        deadline = time.monotonic() + 10
        while store.statistics().rows_written == 0:  # the writer's own flush, no flush() call
            assert time.monotonic() < deadline, "the writer never flushed"
            time.sleep(0.01)
        conn = sqlite3.connect(db)
        try:
            assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
        finally:
            conn.close()


def test_write_durably_resolves_after_the_commit(db: Path) -> None:
    with SqliteRunStore(db, flush_interval=60) as store:
        done = store.write_durably(_run("now"))
        done.result(timeout=10)
        conn = sqlite3.connect(db)
        try:
            assert conn.execute("SELECT run_id FROM runs").fetchall() == [("now",)]
        finally:
            conn.close()
        assert store.statistics().durable_waits == 1


def test_runs_are_listed_newest_first_and_found_by_prefix(db: Path) -> None:
    with SqliteRunStore(db) as store:
        store.write(_run("aaaa1111", start=1.0))
        store.write(_run("aaaa2222", start=3.0))
        store.write(_run("bbbb3333", start=2.0))
        assert [r.run_id for r in store.list_runs()] == ["aaaa2222", "bbbb3333", "aaaa1111"]
        assert [r.run_id for r in store.list_runs(limit=1)] == ["aaaa2222"]
        assert store.get_run("bbbb").run_id == "bbbb3333"
        assert store.get_run("latest").run_id == "aaaa2222"
        with pytest.raises(RunNotFoundError, match="several runs"):
            store.get_run("aaaa")
        with pytest.raises(RunNotFoundError, match="no run 'cccc'"):
            store.get_run("cccc")
        with pytest.raises(LookupError):
            store.get_run("")


def test_a_running_run_whose_process_is_gone_reads_as_crashed(db: Path) -> None:
    import os
    import subprocess
    import sys

    from runtree.store.process import host_name

    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(child.stdout)
    with SqliteRunStore(db) as store:
        store.write(_run("dead", pid=dead_pid, host=host_name()))
        store.write(_run("alive", pid=os.getpid(), host=host_name()))
        store.write(_run("remote", pid=dead_pid, host="another-host"))
        runs = {r.run_id: r for r in store.list_runs()}
        assert runs["dead"].status == "crashed"
        assert runs["dead"].stored_status == "running"
        assert runs["alive"].status == "running"
        assert runs["remote"].status == "running"  # cannot be checked from here
        store.mark_crashed("dead")
        assert store.get_run("dead").stored_status == "crashed"


def test_errors_pickle_and_subclass_builtins() -> None:
    errors = [
        StoreError("s"),
        SchemaVersionError("v", found=9, supported=2),
        RunNotFoundError("r"),
        ResumeError("x"),
    ]
    for error in errors:
        assert isinstance(error, RuntreeError) and isinstance(error, RuntimeError)
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
    assert isinstance(RunNotFoundError("r"), LookupError)
    copy = pickle.loads(pickle.dumps(errors[1]))
    assert (copy.found, copy.supported) == (9, 2)
