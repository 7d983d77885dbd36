"""``Session(resume=run_id)``: completed requests are answered from the journal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import runtree as rt
from runtree.pubsub import RequestSuccess
from runtree.store import ResumeError, RunNotFoundError, SqliteRunStore
from runtree.store.process import host_name
from runtree.store.record import RunStarted
from tests.store.nodes import (
    Fails,
    Flow,
    Leaf,
    MakePoint,
    Pair,
    Point,
    Tree,
    Unpicklable,
    clear_executions,
    executions,
)


async def test_a_failed_run_resumes_without_rerunning_what_completed(
    db: Path, executions_file: Path, reader: SqliteRunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RT_TEST_FAIL_AT", "2")
    with pytest.raises(ValueError, match="failed at 2"):
        async with rt.Session(store=db) as first:
            await rt.call(Flow, 4)
    assert executions(executions_file) == ["Flow 4", "Leaf 0", "Leaf 1"]
    clear_executions(executions_file)
    monkeypatch.delenv("RT_TEST_FAIL_AT")  # the cause of the failure is fixed
    successes: list[RequestSuccess] = []

    async def on_success(message: RequestSuccess) -> None:
        successes.append(message)

    async with rt.Session(store=db, resume=first.run_id) as second:
        second.publisher.subscribe(on_success, topics=RequestSuccess)
        assert await rt.call(Flow, 4) == 10
    # the root failed, so it runs again; of its leaves only those that never completed run
    assert executions(executions_file) == ["Flow 4", "Leaf 2", "Leaf 3"]
    # replayed requests are ordinary successes to observers and to the coordinator
    assert len(successes) == 5
    jobs = second.coordinator.state.statistics()
    assert (jobs.submitted, jobs.succeeded, jobs.running) == (5, 5, 0)
    assert all(r.status == "succeeded" for r in second.info.requests.values())
    reader.open()
    run = reader.get_run(second.run_id)
    assert run.resumed_from == first.run_id and run.status == "succeeded"
    assert reader.get_run(first.run_id).status == "failed"
    replayed = [
        (r.node_name, r.inputs["args"], r.replayed) for r in reader.get_requests(run.run_id)
    ]
    assert replayed == [
        ("Flow", [4], False),
        ("Leaf", [0], True),
        ("Leaf", [1], True),
        ("Leaf", [2], False),
        ("Leaf", [3], False),
    ]


async def test_resume_answers_the_same_requests_and_marks_them_replayed(
    db: Path, executions_file: Path, reader: SqliteRunStore
) -> None:
    with pytest.raises(ValueError):
        async with rt.Session(store=db) as first:
            await rt.call(Tree, 3)
            await rt.call(Fails, 0)
    clear_executions(executions_file)
    async with rt.Session(store=db, resume=first.run_id) as second:
        assert await rt.call(Tree, 3) == 6  # answered: its leaves do not run either
        assert await rt.call(Tree, 2) == 3  # new arguments: runs
        assert second.journal is not None
    assert executions(executions_file) == ["Tree 2", "Leaf 0", "Leaf 1"]
    assert second.journal.statistics().replayed == 1
    statuses = {r.request_id: r.status for r in second.info.requests.values()}
    assert set(statuses.values()) == {"succeeded"}
    reader.open()
    rows = reader.get_requests(second.run_id)
    assert [(r.node_name, r.replayed, r.output) for r in rows] == [
        ("Tree", True, 6),
        ("Tree", False, 3),
        ("Leaf", False, 1),
        ("Leaf", False, 2),
    ]


async def test_changed_arguments_or_order_run_again(db: Path, executions_file: Path) -> None:
    async with rt.Session(store=db) as first:
        await rt.call(Leaf, 1)
        await rt.call(Leaf, 1)
        await rt.call(Leaf, 2)
    clear_executions(executions_file)
    async with rt.Session(store=db, resume=first.run_id):
        await rt.call(Leaf, 2)  # same key as before: answered
        await rt.call(Leaf, 1)  # first Leaf(1): answered
        await rt.call(Leaf, 1)  # second Leaf(1): answered
        await rt.call(Leaf, 1)  # a third one never completed before: runs
        await rt.call(Leaf, 3)  # new arguments: runs
    assert executions(executions_file) == ["Leaf 1", "Leaf 3"]


async def test_replayed_outputs_keep_their_python_types(db: Path, executions_file: Path) -> None:
    async with rt.Session(store=db) as first:
        await rt.call(Pair, 2)
        await rt.call(MakePoint, 4)
        await rt.call(Unpicklable)
    clear_executions(executions_file)
    async with rt.Session(store=db, resume=first.run_id):
        assert await rt.call(Pair, 2) == (2, -2)
        assert await rt.call(MakePoint, 4) == Point(4, 8)
        await rt.call(Unpicklable)  # not replayable: runs again
    assert executions(executions_file) == ["Unpicklable"]


async def test_a_resumed_run_can_itself_be_resumed(db: Path, executions_file: Path) -> None:
    async with rt.Session(store=db) as first:
        await rt.call(Tree, 2)
    async with rt.Session(store=db, resume=first.run_id) as second:
        await rt.call(Tree, 2)
    clear_executions(executions_file)
    async with rt.Session(store=db, resume=second.run_id[:10]):
        assert await rt.call(Tree, 2) == 3
    assert executions(executions_file) == []


def test_resume_works_in_sync_code_and_with_sync_durability(
    db: Path, executions_file: Path
) -> None:
    with rt.Session(store=db, durability="sync") as first:
        rt.call_sync(Leaf, 5)
    clear_executions(executions_file)
    with rt.Session(store=db, durability="sync", resume=first.run_id):
        assert rt.call_sync(Leaf, 5) == 6
    assert executions(executions_file) == []


async def test_an_unknown_run_cannot_be_resumed(db: Path) -> None:
    with pytest.raises(RunNotFoundError, match="no run 'feedface'"):
        async with rt.Session(store=db, resume="feedface"):
            pass


async def test_a_run_still_running_cannot_be_resumed(db: Path) -> None:
    with SqliteRunStore(db) as store:
        store.write(
            RunStarted(
                "busy",
                None,
                "running",
                1.0,
                os.getpid(),
                host_name(),
                None,
                None,
                "batch",
                None,
                None,
                "0",
            )
        )
    session = rt.Session(store=db, resume="busy")
    with pytest.raises(ResumeError, match="still running"):
        async with session:
            pass
    assert session.status == "unopened"  # nothing was left half open


# -- resume never loads a pickle it cannot authenticate -------------------------------------


def _plant(db: Path, run_id: str, node_name: str, blob: bytes) -> None:
    import sqlite3

    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute(
            "UPDATE requests SET replay = ? WHERE run_id = ? AND node_name = ?",
            (blob, run_id, node_name),
        )
    finally:
        conn.close()


class _Planted:
    """Unpickling this runs code: it creates the file named by its argument."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, ...]:
        return (open, (self.path, "w"))


@pytest.mark.parametrize("how", ["unsealed", "resealed-with-another-key", "bit-flip"])
async def test_a_tampered_pickle_is_refused_before_anything_runs(
    db: Path, executions_file: Path, tmp_path: Path, how: str
) -> None:
    import pickle

    from runtree.store.value import seal

    async with rt.Session(store=db) as first:
        await rt.call(Pair, 2)
    marker = tmp_path / "pwned"
    evil = pickle.dumps(_Planted(str(marker)))
    if how == "unsealed":
        blob = evil
    elif how == "resealed-with-another-key":
        blob = seal(os.urandom(32), evil)
    else:
        with SqliteRunStore(db, readonly=True) as store:
            assert store.replay_key is not None
            blob = bytearray(seal(store.replay_key, pickle.dumps((2, -2))))
        blob[-3] ^= 0x01
        blob = bytes(blob)
    _plant(db, first.run_id, "Pair", blob)
    clear_executions(executions_file)
    with pytest.raises(ResumeError, match="fails its integrity check") as caught:
        async with rt.Session(store=db, resume=first.run_id):
            await rt.call(Pair, 2)
    assert "\n" not in str(caught.value) and str(db) in str(caught.value)
    assert not marker.exists()
    assert executions(executions_file) == []  # refused at open: nothing ran


async def test_replay_pickles_are_sealed_with_the_key_beside_the_journal(db: Path) -> None:
    from runtree.store.file import key_path
    from runtree.store.value import unseal

    async with rt.Session(store=db) as first:
        await rt.call(MakePoint, 1)
    key = key_path(db).read_bytes()
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        (blob,) = conn.execute(
            "SELECT replay FROM requests WHERE run_id = ?", (first.run_id,)
        ).fetchone()
    finally:
        conn.close()
    assert unseal(key, blob) is not None
    assert unseal(os.urandom(32), blob) is None


async def test_a_value_that_cannot_be_loaded_any_more_runs_again(
    db: Path, executions_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Sealed and intact, but its class is gone: logged, and the request runs again."""
    import pickle
    import sqlite3

    from runtree.store.value import seal

    async with rt.Session(store=db) as first:
        await rt.call(MakePoint, 3)
    with SqliteRunStore(db, readonly=True) as store:
        key = store.replay_key
    assert key is not None
    gone = pickle.dumps(Point(3, 6)).replace(b"tests.store.nodes", b"tests.store.xodes")
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("UPDATE requests SET replay = ? WHERE run_id = ?", (seal(key, gone), first.run_id))
    conn.close()
    clear_executions(executions_file)
    async with rt.Session(store=db, resume=first.run_id):
        assert await rt.call(MakePoint, 3) == Point(3, 6)
    assert executions(executions_file) == ["MakePoint 3"]
    assert any("cannot replay" in r.message for r in caplog.records)


def test_open_readonly_gives_a_plain_connection_for_your_own_queries(db: Path) -> None:
    from contextlib import closing

    from runtree.store import open_readonly

    with rt.Session(store=db) as session:
        rt.call_sync(Leaf, 1)
    with closing(open_readonly(str(db))) as conn:
        rows = conn.execute(
            "SELECT node_name, output FROM requests WHERE run_id = ?", (session.run_id,)
        ).fetchall()
        assert rows == [("Leaf", "2")]
        with pytest.raises(Exception, match="readonly"):
            conn.execute("DELETE FROM requests")
