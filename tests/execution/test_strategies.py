"""The same behaviour on every execution strategy (the `mode` fixture)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading

import pytest

import runtree as rt
from runtree.pubsub.messages import NodeFinished, NodeStarted, RequestCreation, RequestSuccess
from tests.support import (
    Adder,
    Boom,
    Failing,
    FailOn,
    Parent,
    ShareContext,
    Streamer,
    SyncAdder,
    Where,
)


async def test_result_comes_back(mode: str) -> None:
    async with rt.Session(execution_mode=mode) as session:
        assert await rt.call(Adder, 2, 3) == 5
        assert await rt.call(SyncAdder, 2, 3) == 5
    records = list(session.info.requests.values())
    assert [r.mode for r in records] == [mode, mode]
    assert all(r.status == "succeeded" for r in records)


async def test_node_exception_passes_through_unchanged(mode: str) -> None:
    async with rt.Session(execution_mode=mode) as session:
        with pytest.raises(Boom, match="kaboom"):
            await rt.call(Failing, "kaboom")
    (record,) = session.info.requests.values()
    assert record.status == "failed"
    assert isinstance(record.error, Boom)


async def test_batch_in_order(mode: str) -> None:
    async with rt.Session(execution_mode=mode):
        assert await rt.call_batch(Adder, [1, 2, 3], [10, 20, 30]) == [11, 22, 33]


async def test_batch_return_exceptions(mode: str) -> None:
    async with rt.Session(execution_mode=mode):
        results = await rt.call_batch(FailOn, [1, 2, 3], [2, 2, 2], return_exceptions=True)
    assert results[0] == 1 and results[2] == 3
    assert isinstance(results[1], Boom)


async def test_where_it_runs(mode: str) -> None:
    async with rt.Session(execution_mode=mode):
        where = await rt.call(Where)
    if mode in ("process", "ray"):
        assert where["pid"] != os.getpid()
    elif mode == "thread":
        assert where["pid"] == os.getpid()
        assert where["thread"] != threading.get_ident()
    else:
        assert where == {"pid": os.getpid(), "thread": threading.get_ident()}


async def test_node_events_published(mode: str) -> None:
    events: list[object] = []

    async def collect(message: object) -> None:
        events.append(message)

    async with rt.Session(execution_mode=mode) as session:
        session.publisher.subscribe(collect, topics=(NodeStarted, NodeFinished))
        await rt.call(Adder, 1, 1)
    started = [e for e in events if isinstance(e, NodeStarted)]
    finished = [e for e in events if isinstance(e, NodeFinished)]
    assert len(started) == 1 and len(finished) == 1
    (record,) = session.info.requests.values()
    assert started[0].uuid == finished[0].uuid == record.request_id
    assert started[0].name == "Adder" and started[0].params == {"a": 1, "b": 1}
    assert finished[0].output_summary == "2" and finished[0].latency_ms >= 0


async def test_nested_calls_record_parent(mode: str) -> None:
    """Thread mode hops back to the session loop; process mode reports the calls from the
    worker to this run as they happen."""
    async with rt.Session(execution_mode=mode) as session:
        assert await rt.call(Parent, 10) == [11, 12]
    root = session.info.root_requests()[0]
    children = session.info.children(root.request_id)
    assert [c.node_name for c in children] == ["Adder", "Adder"]
    assert [c.output for c in children] == [11, 12]
    assert all(c.parent_id == root.request_id for c in children)
    assert all(c.status == "succeeded" for c in children)
    assert len(session.info) == 3


async def test_nested_calls_are_reported_as_they_happen(mode: str) -> None:
    events: list[tuple[str, str]] = []

    def collect(message: RequestCreation | RequestSuccess) -> None:
        events.append((type(message).__name__, message.node_name))

    async with rt.Session(execution_mode=mode) as session:
        session.publisher.subscribe(collect, topics=(RequestCreation, RequestSuccess))
        assert await rt.call(Parent, 1) == [2, 3]
    assert events == [
        ("RequestCreation", "Parent"),
        ("RequestCreation", "Adder"),
        ("RequestSuccess", "Adder"),
        ("RequestCreation", "Adder"),
        ("RequestSuccess", "Adder"),
        ("RequestSuccess", "Parent"),
    ]


async def test_the_run_context_is_shared_with_the_node(mode: str) -> None:
    """In process mode the worker starts from a copy; its changes reach the session (and a
    nested process-mode call) as they are made."""
    context = {"greeting": "hello", "scratch": 1}
    async with rt.Session(execution_mode=mode, context=context) as session:
        assert await rt.call(ShareContext) == ["hello", "by the node", None]
        assert session.context.get("written") == "by the node"
        assert "scratch" not in session.context


async def test_broadcast_reaches_callback(mode: str) -> None:
    got: list[str] = []
    async with rt.Session(execution_mode=mode, broadcast_callback=got.append):
        await rt.call(Streamer, 3)
    assert got == ["chunk 0", "chunk 1", "chunk 2"]


async def test_mode_per_call_overrides_session(mode: str) -> None:
    async with rt.Session(execution_mode="async") as session:
        with rt.execution_mode(mode):
            await rt.call(Adder, 1, 2)
        await rt.call(Adder, 1, 2)
    assert [r.mode for r in session.info.requests.values()] == [mode, "async"]


async def test_sync_node_does_not_block_loop() -> None:
    from tests.support import Blocking

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async with rt.Session():
        tick_task = asyncio.create_task(ticker())
        assert await rt.call(Blocking, 0.05) == "slept"
        tick_task.cancel()
    assert ticks > 1


async def test_process_worker_requests_are_journaled_with_their_errors(tmp_path: object) -> None:
    """A node class defined here (travels by value) whose nested call fails in a worker."""
    from pathlib import Path

    from runtree.store import SqliteRunStore

    class Careful(rt.Node[str]):
        def __init__(self) -> None:
            super().__init__()

        async def invoke(self) -> str:
            try:
                await rt.call(Failing, "inner")
            except Boom:
                return "recovered"
            return "unreachable"

    db = Path(str(tmp_path)) / "journal.db"
    async with rt.Session(execution_mode="process", store=db) as session:
        assert await rt.call(Careful) == "recovered"
    root = session.info.root_requests()[0]
    (child,) = session.info.children(root.request_id)
    assert child.status == "failed"
    assert isinstance(child.error, Boom) and str(child.error) == "inner"
    with SqliteRunStore(db) as store:
        rows = store.get_requests(session.run_id)
    assert sorted(r.node_name for r in rows) == ["Careful", "Failing"]


async def test_thread_mode_survives_a_forked_child() -> None:
    """A child made by fork (``subprocess`` with ``preexec_fn``, ``multiprocessing``'s fork
    start method) frees the thread-local event loops of the parent's worker threads; that
    must not leave those loops deaf in the parent (a nested call would never come back)."""
    async with rt.Session(execution_mode="thread"):
        assert await rt.call(Parent, 1) == [2, 3]  # worker threads now have idle loops
        subprocess.run([sys.executable, "-c", "pass"], preexec_fn=lambda: None, check=True)  # noqa: ASYNC221
        assert await asyncio.wait_for(rt.call(Parent, 10), timeout=30) == [11, 12]
