"""``rt.call_sync``: from the session's thread, sync nodes and other threads; asyncio inside."""

from __future__ import annotations

import asyncio
import contextvars
import sys
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

import runtree as rt
from runtree import _threads
from tests.support import Adder


@pytest.fixture
def tiny_pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[_threads.WorkerThreads]:
    """Sync node bodies on a pool of 2: a plain bounded pool deadlocks on nested waits."""
    pool = _threads.WorkerThreads(limit=2, name="runtree-test")
    monkeypatch.setattr(_threads, "_shared", pool)
    yield pool
    pool.shutdown()


class SyncChild(rt.Node[int]):
    def __init__(self, x: int):
        super().__init__()
        self.x = x

    def invoke(self) -> int:
        return self.x + 1


class SyncParent(rt.Node[int]):
    def __init__(self, x: int):
        super().__init__()
        self.x = x

    def invoke(self) -> int:
        return rt.call_sync(SyncChild, self.x) * 10


class SyncChain(rt.Node[int]):
    """Calls itself ``depth`` times, each level a sync body waiting in call_sync."""

    def __init__(self, depth: int):
        super().__init__()
        self.depth = depth

    def invoke(self) -> int:
        if self.depth == 0:
            return 0
        return rt.call_sync(SyncChain, self.depth - 1) + 1


class Fanout(rt.Node[list[int]]):
    def __init__(self, n: int):
        super().__init__()
        self.n = n

    async def invoke(self) -> list[int]:
        return await rt.call_batch(SyncParent, range(self.n))


def test_concurrent_sync_nodes_calling_call_sync(tiny_pool: _threads.WorkerThreads) -> None:
    with rt.Session(store=None) as session:
        results = rt.call_sync(Fanout, 12)
    assert results == [(x + 1) * 10 for x in range(12)]
    assert len(session.info) == 1 + 12 * 2
    assert tiny_pool.statistics().peak >= 3  # a blocked parent let a child start


def test_nested_sync_nodes_calling_call_sync(tiny_pool: _threads.WorkerThreads) -> None:
    with rt.Session(store=None) as session:
        assert rt.call_sync(SyncChain, 12) == 12
    depths = [depth for depth, _ in session.info.walk()]
    assert max(depths) == 12


async def test_sync_nodes_at_default_pool_size_from_async_code() -> None:
    """More concurrent sync parents than the default pool has places."""
    count = _threads.DEFAULT_LIMIT + 8
    async with rt.Session(store=None):
        results = await rt.call_batch(SyncParent, range(count))
    assert results == [(x + 1) * 10 for x in range(count)]


def _call_from_threads(session: rt.Session, count: int, start: threading.Barrier) -> list[int]:
    results = [0] * count
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            start.wait()
            results[i] = rt.call_sync(Adder, i, 1)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=contextvars.copy_context().run, args=(work, i))
        for i in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def test_call_sync_from_many_threads_inside_a_sync_session() -> None:
    """The main thread only joins: the waiting threads drive the session's loop."""
    for _ in range(25):
        with rt.Session(store=None) as session:
            results = _call_from_threads(session, 20, threading.Barrier(20))
        assert results == [i + 1 for i in range(20)]
        assert len(session.info.root_requests()) == 20


def test_threads_attach_to_a_session() -> None:
    results: list[int] = []

    def work(session: rt.Session, i: int) -> None:
        with session.attach():
            results.append(rt.call_sync(Adder, i, i))

    with rt.Session(store=None) as session:
        threads = [threading.Thread(target=work, args=(session, i)) for i in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(results) == [0, 2, 4, 6, 8]
    assert len(session.info) == 5
    with pytest.raises(rt.SessionStateError, match="attach"), session.attach():
        pass


async def test_call_sync_from_threads_inside_an_async_session() -> None:
    async with rt.Session(store=None) as session:
        results = await asyncio.to_thread(_call_from_threads, session, 8, threading.Barrier(8))
    assert results == [i + 1 for i in range(8)]


def test_thread_without_session_context_gets_a_clear_error() -> None:
    caught: list[BaseException] = []

    def work() -> None:
        try:
            rt.call_sync(Adder, 1, 2)
        except BaseException as exc:
            caught.append(exc)

    with rt.Session(store=None, name="main run") as session:
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    assert len(caught) == 1 and isinstance(caught[0], rt.ContextError)
    assert "'main run'" in str(caught[0]) and "session.attach()" in str(caught[0])
    assert len(session.info) == 0
    # once no session is open, a plain call opens a temporary one again
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert len(caught) == 1


def test_sessions_of_other_threads_are_independent_runs() -> None:
    """A server's session (on its own loop, in its own thread) or a worker thread's session
    does not make a plain call elsewhere an error: only a script's `with` block does."""
    opened, release = threading.Event(), threading.Event()

    def server() -> None:
        async def serve() -> None:
            async with rt.Session(store=None, name="server"):
                opened.set()
                await asyncio.to_thread(release.wait, 30)

        asyncio.run(serve())

    thread = threading.Thread(target=server)
    thread.start()
    try:
        assert opened.wait(30)
        assert rt.call_sync(Adder, 1, 2) == 3  # a temporary session, as before
    finally:
        release.set()
        thread.join()


class AsyncioInside(rt.Node[dict[str, object]]):
    """Reports what asyncio says inside the node, before and after suspending."""

    def __init__(self, suspend: bool):
        super().__init__()
        self.suspend = suspend

    async def invoke(self) -> dict[str, object]:
        before = asyncio.current_task()
        if self.suspend:
            await asyncio.sleep(0.001)
        return {
            "task": before,
            "same_task": asyncio.current_task() is before,
            "loop": asyncio.get_running_loop(),
        }


@pytest.mark.parametrize("suspend", [False, True])
def test_asyncio_semantics_inside_nodes_run_by_call_sync(suspend: bool) -> None:
    with rt.Session(store=None) as session:
        seen = rt.call_sync(AsyncioInside, suspend)
        again = rt.call_sync(AsyncioInside, suspend)
    assert isinstance(seen["task"], asyncio.Task) and seen["same_task"]
    assert seen["loop"] is session.loop and again["loop"] is session.loop
    assert seen["task"] is not again["task"]  # one task per call
    assert asyncio._get_running_loop() is None  # nothing left marked as running


class WithTimeout(rt.Node[str]):
    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    async def invoke(self) -> str:
        try:
            if sys.version_info >= (3, 11):
                async with asyncio.timeout(0):
                    await asyncio.sleep(self.seconds)
            else:
                await asyncio.wait_for(asyncio.sleep(self.seconds), 0)
        except asyncio.TimeoutError:  # the builtin TimeoutError from Python 3.11 on
            return "timed out"
        return "finished"


def test_asyncio_timeout_inside_a_node_run_by_call_sync() -> None:
    with rt.Session(store=None):
        assert rt.call_sync(WithTimeout, 60) == "timed out"
        assert rt.call_sync(Adder, 1, 2) == 3  # the loop is fine afterwards


class Agen(rt.Node[list[int]]):
    def __init__(self) -> None:
        super().__init__()

    async def invoke(self) -> list[int]:
        async def numbers() -> AsyncIterator[int]:
            for i in range(3):
                yield i

        return [i async for i in numbers()]


def test_async_generators_inside_nodes_run_by_call_sync() -> None:
    hooks = sys.get_asyncgen_hooks()
    with rt.Session(store=None):
        assert rt.call_sync(Agen) == [0, 1, 2]
    assert sys.get_asyncgen_hooks() == hooks  # the session's thread gets its hooks back


def test_sync_session_inside_another_thread_while_main_is_busy() -> None:
    """A sync session opened in a worker thread works like one in the main thread."""
    out: list[int] = []

    def work() -> None:
        with rt.Session(store=None):
            out.append(rt.call_sync(SyncParent, 1))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert out == [20]
