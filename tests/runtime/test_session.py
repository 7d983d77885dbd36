from __future__ import annotations

import asyncio
import json
import threading

import pytest

import runtree as rt
from runtree.pubsub.messages import FatalFailure
from tests.support import Adder, Boom, Failing, FailOn, Forever, Parent


async def test_timeout_cancels_running_requests_and_raises() -> None:
    Forever.started = asyncio.Event()
    try:
        with pytest.raises(rt.SessionTimeoutError, match="timeout of 0.05s"):
            async with rt.Session(timeout=0.05) as session:
                await asyncio.gather(rt.call(Forever), rt.call(Forever))
    finally:
        Forever.started = None
    statuses = [r.status for r in session.info.requests.values()]
    assert statuses == ["cancelled", "cancelled"]
    assert isinstance(rt.SessionTimeoutError("x"), TimeoutError)


async def test_timeout_cancels_thread_mode_work() -> None:
    with pytest.raises(rt.SessionTimeoutError):
        async with rt.Session(timeout=0.05, execution_mode="thread") as session:
            await rt.call(Forever)
    (record,) = session.info.requests.values()
    assert record.status == "cancelled"


def test_timeout_in_sync_session() -> None:
    with pytest.raises(rt.SessionTimeoutError), rt.Session(timeout=0.05) as session:
        rt.call_sync(Forever)
    assert [r.status for r in session.info.requests.values()] == ["cancelled"]


async def test_caller_cancellation_is_recorded_and_reraised() -> None:
    async with rt.Session() as session:
        task = asyncio.create_task(rt.call(Forever))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    (record,) = session.info.requests.values()
    assert record.status == "cancelled"


async def test_end_on_error_ends_the_run() -> None:
    fatal: list[FatalFailure] = []

    async def on_fatal(message: FatalFailure) -> None:
        fatal.append(message)

    with pytest.raises(Boom, match="first"):
        async with rt.Session(end_on_error=True) as session:
            session.publisher.subscribe(on_fatal, topics=FatalFailure)
            sibling = asyncio.create_task(rt.call(Forever))
            await asyncio.sleep(0)
            try:
                await rt.call(Failing, "first")
            except Boom:
                pass  # swallowed by the body: the session still re-raises it on exit
            with pytest.raises(rt.RunEndedError):
                await rt.call(Adder, 1, 2)
            with pytest.raises(asyncio.CancelledError):
                await sibling
    assert len(fatal) == 1 and isinstance(fatal[0].error, Boom)
    statuses = sorted(r.status for r in session.info.requests.values())
    assert statuses == ["cancelled", "failed"]


async def test_without_end_on_error_the_caller_decides() -> None:
    async with rt.Session() as session:
        with pytest.raises(Boom):
            await rt.call(Failing)
        assert await rt.call(Adder, 1, 2) == 3
    assert session.info.answer == 3


async def test_session_enters_once_and_reports_status() -> None:
    session = rt.Session(name="once")
    assert session.status == "unopened"
    async with session:
        assert session.status == "open"
        assert rt.context.get_session() is session
    assert session.status == "closed"
    assert rt.context.get_session() is None
    with pytest.raises(rt.SessionStateError, match="entered only once"):
        async with session:
            pass


def test_bad_options_are_named() -> None:
    with pytest.raises(rt.ConfigurationError, match="timeout"):
        rt.Session(timeout=-1)
    with pytest.raises(rt.ConfigurationError, match="execution_mode is 'gpu'"):
        rt.Session(execution_mode="gpu")
    with pytest.raises(rt.ConfigurationError, match="broadcast_callback"):
        rt.Session(broadcast_callback=42)  # type: ignore[arg-type]


def test_env_execution_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RT_EXECUTION_MODE", "thread")
    with rt.Session() as session:
        rt.call_sync(Adder, 1, 1)
    assert [r.mode for r in session.info.requests.values()] == ["thread"]
    monkeypatch.setenv("RT_EXECUTION_MODE", "warp")
    with pytest.raises(rt.ConfigurationError, match="RT_EXECUTION_MODE is 'warp'"):
        rt.Session()


async def test_node_class_pins_its_mode() -> None:
    class Pinned(Adder):
        execution_mode = "thread"

    async with rt.Session() as session:
        await rt.call(Pinned, 1, 2)
    assert [r.mode for r in session.info.requests.values()] == ["thread"]


async def test_async_broadcast_callback_and_statistics() -> None:
    got: list[str] = []

    async def on_item(item: str) -> None:
        got.append(item)

    async with rt.Session(broadcast_callback=on_item) as session:
        await rt.broadcast("a")
        await rt.broadcast("b")
        await rt.call_batch(FailOn, [1, 2], [2, 2], return_exceptions=True)
    assert got == ["a", "b"]
    stats = session.statistics()
    assert stats.requests.requests == 2 and stats.requests.failed == 1
    assert stats.jobs.succeeded == 1 and stats.jobs.failed == 1
    (sub,) = [s for s in stats.publisher.subscribers if s.name == "broadcast_callback"]
    assert sub.delivered == 2
    assert sub.dropped == 0


async def test_info_json_export() -> None:
    class Weird:
        def __repr__(self) -> str:
            return "<weird>"

    class Echo(rt.Node[object]):
        def __init__(self, value: object):
            super().__init__()
            self.value = value

        async def invoke(self) -> object:
            return self.value

    async with rt.Session(name="export") as session:
        await rt.call(Echo, Weird())
        await rt.call(Echo, "x" * 10)
    data = json.loads(session.info.to_json(max_chars=8))
    first, second = data["requests"]
    assert first["output"] == {
        "__runtree__": "unserialisable",
        "type": f"{__name__}.test_info_json_export.<locals>.Weird",
        "repr": "<weird>",
    }
    assert second["output"]["__runtree__"] == "truncated" and second["output"]["length"] == 10
    assert data["name"] == "export" and data["answer"]["head"] == "xxxxxxxx"


async def test_communication_objects_appear_in_session_statistics() -> None:
    from runtree.comm import Channel, CommStatistics

    snapshots: list[CommStatistics] = []

    async def on_stats(message: CommStatistics) -> None:
        snapshots.append(message)

    async with rt.Session() as session:
        session.publisher.subscribe(on_stats, topics=CommStatistics)
        channel: Channel[int] = Channel("numbers", buffer_size=4)
        await channel.send(1)
        await channel.send(2)
        assert await channel.receive() == 1
        stats = session.statistics().communication["numbers"]
        assert (stats.sent, stats.received, stats.depth) == (2, 1, 1)
    assert len(snapshots) == 1 and "numbers" in snapshots[0].objects


# -- on_close: resources that belong to the run -------------------------------------------------


async def test_on_close_runs_closers_last_first_before_the_journal_closes() -> None:
    seen: list[str] = []

    async def close_async() -> None:
        assert session.journal is not None
        seen.append(f"async, session {session.status}, journal {session.journal.status}")

    async with rt.Session(name="closers") as session:
        session.on_close(lambda: seen.append("sync"))
        session.on_close(close_async)
        assert seen == []
    assert seen == ["async, session closed, journal open", "sync"]


def test_on_close_in_a_sync_session_and_a_failing_closer_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    def broken() -> None:
        raise RuntimeError("closer broke")

    with pytest.raises(Boom), rt.Session(store=None) as session:
        session.on_close(lambda: seen.append("closed"))
        session.on_close(broken)
        raise Boom("the body's error wins")
    assert seen == ["closed"]
    assert "closer broke" in caplog.text


async def test_on_close_of_a_sync_session_inside_a_loop_runs_before_the_block_ends() -> None:
    """`with` inside async code finishes its run before it returns; an async closer then
    runs on a loop of its own (this thread is running the caller's loop)."""
    seen: list[str] = []

    async def closer() -> None:
        await asyncio.sleep(0)
        seen.append("async")

    with rt.Session(store=None) as session:
        session.on_close(closer)
        session.on_close(lambda: seen.append("sync"))
    assert seen == ["sync", "async"]


async def test_on_close_rejects_bad_input_and_closed_sessions() -> None:
    async with rt.Session(store=None) as session:
        with pytest.raises(rt.ConfigurationError, match="needs a callable"):
            session.on_close("nope")  # type: ignore[arg-type]
    with pytest.raises(rt.SessionStateError, match="is closed"):
        session.on_close(lambda: None)


# -- run / run_sync: a root call that returns the session's info -------------------------------


def test_run_sync_of_a_node_returns_the_info_of_the_session() -> None:
    def double(x: int) -> int:
        return 2 * x

    with rt.Session(store=None) as session:
        info = session.run_sync(Parent, 10)
        assert info is session.info and info.answer == [11, 12]
        (root,) = info.root_requests()
        assert root.node_name == "Parent" and len(info.children(root.request_id)) == 2
        assert session.run_sync(double, 4).answer == 8  # a function is a node too
        assert session.run_sync(rt.call(Adder, 1, 2)) == 3  # a coroutine: its result
    assert info.answers == [[11, 12], 8, 3]


async def test_run_is_a_root_call_even_inside_a_node() -> None:
    class Outer(rt.Node[str]):
        async def invoke(self) -> str:
            opened = rt.context.get("session")
            await opened.run(Adder, 1, 1)  # run() is a root call, not a child of Outer
            return "outer"

    async with rt.Session(store=None) as session:
        session.context.put("session", session)
        info = await session.run(Outer)
        assert [r.node_name for r in info.root_requests()] == ["Outer", "Adder"]
    with rt.Session(store=None) as session:  # `with` inside async code works the same
        assert (await session.run(Adder, 2, 3)).answer == 5


async def test_run_and_run_sync_let_the_nodes_exceptions_through() -> None:
    async with rt.Session(store=None) as session:
        with pytest.raises(Boom, match="async"):
            await session.run(Failing, "async")
    with rt.Session(store=None) as sync_session, pytest.raises(Boom, match="sync"):
        await asyncio.to_thread(sync_session.run_sync, Failing, "sync")
    assert [r.status for r in sync_session.info.root_requests()] == ["failed"]


async def test_run_sync_from_a_thread_without_the_sessions_context_joins_the_session() -> None:
    """A plain thread does not inherit the session: run_sync still makes its node (and the
    calls the node makes) part of the session's tree."""
    results: list[object] = []
    async with rt.Session(store=None) as session:
        thread = threading.Thread(target=lambda: results.append(session.run_sync(Parent, 1)))
        thread.start()
        await asyncio.to_thread(thread.join)
    assert results == [session.info]
    (root,) = session.info.root_requests()
    assert [c.node_name for c in session.info.children(root.request_id)] == ["Adder", "Adder"]


async def test_run_and_run_sync_refuse_where_they_cannot_work() -> None:
    session = rt.Session(store=None)
    with pytest.raises(rt.SessionStateError, match="unopened; run\\(\\) needs it open"):
        await session.run(Adder, 1, 2)
    with rt.Session(store=None) as opened:
        with pytest.raises(rt.ContextError, match="cannot run inside a running event loop"):
            opened.run_sync(Adder, 1, 2)
        with pytest.raises(rt.ContextError, match="cannot run inside a running event loop"):
            opened.run_sync(rt.call(Adder, 1, 2))  # closed, never awaited: no warning
    with pytest.raises(rt.SessionStateError, match="is closed"):
        await asyncio.to_thread(opened.run_sync, Adder, 1, 2)


def test_run_sync_of_a_coroutine_takes_no_other_arguments() -> None:
    with (
        rt.Session(store=None) as session,
        pytest.raises(rt.ConfigurationError, match="takes no other arguments"),
    ):
        session.run_sync(rt.call(Adder, 1, 2), 3)  # type: ignore[call-overload]


def test_the_session_id_is_the_run_id_and_read_only() -> None:
    session = rt.Session(store=None)
    assert session.session_id == session.identifier == session._identifier == session.run_id
    assert rt.Session(store=None).session_id != session.session_id
    with pytest.raises(AttributeError):
        session.session_id = "other"  # type: ignore[misc]
