"""Sessions write their runs to the journal."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

import runtree as rt
from runtree.store import DEFAULT_STORE, SqliteRunStore, default_store_path
from tests.store.nodes import Described, Fails, Leaf, MakePoint, Pair, Tree
from tests.support import Forever


async def test_a_session_journals_its_run_requests_and_broadcasts(
    db: Path, reader: SqliteRunStore
) -> None:
    async with rt.Session(name="tree", store=db) as session:
        assert await rt.call(Tree, 3) == 6
    reader.open()
    run = reader.get_run(session.run_id)
    assert (run.name, run.status, run.request_count, run.error) == ("tree", "succeeded", 4, None)
    assert run.root_node == "tests.store.nodes:Tree"
    assert json.loads(run.root_inputs or "") == {"args": [3], "kwargs": {}}
    assert run.duration is not None and run.duration >= 0
    root, *leaves = reader.get_requests(session.run_id)
    assert (root.node_name, root.parent_id, root.output, root.mode) == ("Tree", None, 6, "async")
    assert [leaf.inputs["args"] for leaf in leaves] == [[0], [1], [2]]
    assert {leaf.parent_id for leaf in leaves} == {root.request_id}
    assert [leaf.output for leaf in leaves] == [1, 2, 3]
    assert all(r.status == "succeeded" and not r.replayed for r in [root, *leaves])
    events = reader.get_events(session.run_id)
    assert sorted(e.payload for e in events) == ["leaf 0", "leaf 1", "leaf 2"]
    assert {e.kind for e in events} == {"stream"}


@pytest.mark.parametrize("mode", ["async", "thread", "process"])
async def test_every_execution_mode_is_journaled(
    db: Path, reader: SqliteRunStore, mode: str
) -> None:
    async with rt.Session(store=db, execution_mode=mode) as session:
        assert await rt.call(Leaf, 4) == 5
    reader.open()
    (request,) = reader.get_requests(session.run_id)
    assert (request.mode, request.status, request.output) == (mode, "succeeded", 5)


def test_sync_sessions_are_journaled_too(db: Path, reader: SqliteRunStore) -> None:
    with rt.Session(store=db) as session:
        assert rt.call_sync(Leaf, 1) == 2
    reader.open()
    assert reader.get_run(session.run_id).status == "succeeded"
    assert [r.output for r in reader.get_requests(session.run_id)] == [2]


async def test_a_failed_run_records_the_error_and_the_failed_request(
    db: Path, reader: SqliteRunStore
) -> None:
    with pytest.raises(ValueError, match="failed after 3"):
        async with rt.Session(store=db) as session:
            await rt.call(Fails, 2)
    reader.open()
    run = reader.get_run(session.run_id)
    assert run.status == "failed"
    assert run.error == "ValueError: failed after 3"
    root = reader.get_requests(session.run_id)[0]
    assert root.status == "failed"
    assert root.error["type"] == "ValueError"
    assert root.error["message"] == "failed after 3"
    assert "Traceback" in root.error["traceback"]


async def test_end_on_error_records_the_fatal_failure_as_an_event(
    db: Path, reader: SqliteRunStore
) -> None:
    with pytest.raises(ValueError):
        async with rt.Session(store=db, end_on_error=True) as session:
            await rt.call(Fails, 0)
    reader.open()
    (event,) = reader.get_events(session.run_id)
    assert event.kind == "fatal" and event.payload["type"] == "ValueError"


async def test_a_timed_out_run_is_marked_timed_out_with_cancelled_requests(
    db: Path, reader: SqliteRunStore
) -> None:
    Forever.started = asyncio.Event()
    try:
        with pytest.raises(rt.SessionTimeoutError):
            async with rt.Session(store=db, timeout=0.05) as session:
                await rt.call(Forever)
    finally:
        Forever.started = None
    reader.open()
    assert reader.get_run(session.run_id).status == "timed_out"
    assert [r.status for r in reader.get_requests(session.run_id)] == ["cancelled"]


async def test_values_json_cannot_hold_are_stored_with_markers(
    db: Path, reader: SqliteRunStore
) -> None:
    async with rt.Session(store=db) as session:
        await rt.call(MakePoint, 3)
        await rt.call(Pair, 1)
        await rt.call(lambda value: value, {1, 2})
    reader.open()
    point, pair, function = reader.get_requests(session.run_id)
    assert point.output["__runtree__"] == "dataclass"
    assert point.output["type"] == "tests.store.nodes.Point"
    assert point.output["fields"] == {"x": 3, "y": 6}
    assert pair.output == [1, -1]
    assert function.inputs["args"][0] == {
        "__runtree__": "unserialisable",
        "type": "set",
        "repr": "{1, 2}",
    }


async def test_values_past_the_size_limit_are_cut_and_marked(tmp_path: Path) -> None:
    store = SqliteRunStore(tmp_path / "small.db", max_value_chars=50)
    async with rt.Session(store=store) as session:
        await rt.call(lambda text: text.upper(), "x" * 500)
    assert store.status == "closed"  # the session opened it, so the session closed it
    with SqliteRunStore(tmp_path / "small.db") as again:
        (request,) = again.get_requests(session.run_id)
    for value in (request.inputs, request.output):
        assert value["__runtree__"] == "truncated"
        assert value["limit"] == 50 and value["length"] > 500
        assert len(value["head"]) == 50
    assert request.output["head"] == '"' + "X" * 49


async def test_store_none_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RT_HOME")
    async with rt.Session(store=None) as session:
        await rt.call(Leaf, 1)
    assert session.journal is None
    assert not (tmp_path / ".runtree").exists()


async def test_the_default_journal_is_in_rt_home_else_in_dot_runtree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RT_HOME", str(tmp_path / "home"))
    assert default_store_path() == tmp_path / "home" / "runtree.db"
    async with rt.Session(name="default") as session:
        await rt.call(Leaf, 1)
    with SqliteRunStore(tmp_path / "home" / "runtree.db") as store:
        assert store.get_run(session.run_id).name == "default"
    monkeypatch.delenv("RT_HOME")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))  # no .runtree of a folder above counts
    assert default_store_path() == tmp_path / ".runtree" / "runtree.db"
    async with rt.Session(store=DEFAULT_STORE) as session:
        await rt.call(Leaf, 1)
    with SqliteRunStore(tmp_path / ".runtree" / "runtree.db") as store:
        assert store.get_run(session.run_id).status == "succeeded"


async def test_a_store_given_open_stays_open_and_is_shared(db: Path) -> None:
    with SqliteRunStore(db) as store:
        async with rt.Session(store=store) as first:
            await rt.call(Leaf, 1)
        async with rt.Session(store=store) as second:
            await rt.call(Leaf, 2)
        assert store.status == "open"
        assert {r.run_id for r in store.list_runs()} == {first.run_id, second.run_id}


async def test_a_store_given_unopened_is_opened_and_closed_by_the_session(db: Path) -> None:
    store = SqliteRunStore(db)
    async with rt.Session(store=store):
        assert store.status == "open"
    assert store.status == "closed"


def test_bad_options_fail_at_construction(db: Path) -> None:
    with pytest.raises(rt.ConfigurationError, match="durability"):
        rt.Session(store=db, durability="eventually")
    with pytest.raises(rt.ConfigurationError, match="store must be"):
        rt.Session(store=42)  # type: ignore[arg-type]
    with pytest.raises(rt.ConfigurationError, match="resume= needs a journal"):
        rt.Session(store=None, resume="abc")
    with pytest.raises(rt.ConfigurationError, match="resume must be"):
        rt.Session(store=db, resume="  ")


async def test_sync_durability_commits_before_the_caller_gets_the_result(db: Path) -> None:
    store = SqliteRunStore(db, flush_interval=3600)  # batch writes would wait an hour
    async with rt.Session(store=store, durability="sync") as session:
        for i in range(3):
            assert await rt.call(Leaf, i) == i + 1
            conn = sqlite3.connect(db)  # another connection sees the committed row
            try:
                rows = conn.execute(
                    "SELECT status, output FROM requests WHERE run_id = ? ORDER BY seq",
                    (session.run_id,),
                ).fetchall()
            finally:
                conn.close()
            assert rows[-1] == ("succeeded", str(i + 1))
        assert store.statistics().durable_waits == 5  # the run, its root call, 3 results


async def test_journal_statistics(db: Path) -> None:
    async with rt.Session(store=db) as session:
        await rt.call(Tree, 2)
    assert session.journal is not None
    stats = session.journal.statistics()
    assert (stats.requests, stats.replayed, stats.events) == (3, 0, 2)
    assert stats.run_id == session.run_id


@pytest.mark.parametrize("mode", ["async", "thread", "process"])
async def test_attributes_a_node_reports_reach_its_record_and_the_journal(
    db: Path, reader: SqliteRunStore, mode: str
) -> None:
    async with rt.Session(store=db, execution_mode=mode) as session:
        assert await rt.call(Described, 7) == 7
        with pytest.raises(ValueError, match="negative"):
            await rt.call(Described, -1)
    ok, failed = session.info.root_requests()
    assert ok.attributes == {"runtree.kind": "demo", "demo.x": 7}
    assert failed.attributes == {"runtree.kind": "demo", "demo.x": -1}
    reader.open()
    stored = {r.request_id: r for r in reader.get_requests(session.run_id)}
    assert stored[ok.request_id].attributes == {"demo.x": 7, "runtree.kind": "demo"}
    assert stored[failed.request_id].attributes == {"demo.x": -1, "runtree.kind": "demo"}
    assert stored[failed.request_id].status == "failed"
