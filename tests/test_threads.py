"""``runtree._threads``: a bounded pool whose blocked workers make room for others."""

from __future__ import annotations

import asyncio
import threading

import pytest

from runtree._threads import WorkerThreads, blocking, run_in_thread


def test_limit_bounds_running_work() -> None:
    pool = WorkerThreads(limit=2, name="test-limit")
    gate = threading.Event()
    running = threading.Semaphore(0)
    futures = [pool.submit(lambda: (running.release(), gate.wait(10))) for _ in range(5)]
    running.acquire(timeout=10)
    running.acquire(timeout=10)
    stats = pool.statistics()
    assert (stats.active, stats.queued, stats.threads) == (2, 3, 2)
    gate.set()
    for future in futures:
        future.result(10)
    assert pool.statistics().active == 0
    pool.shutdown()


def test_a_blocked_worker_makes_room() -> None:
    """Nested waits on a pool of one: without blocking() this deadlocks."""
    pool = WorkerThreads(limit=1, name="test-nested")

    def nested(depth: int) -> int:
        if depth == 0:
            return 0
        inner = pool.submit(nested, depth - 1)
        with blocking():
            return inner.result(10) + 1

    assert pool.submit(nested, 6).result(30) == 6
    assert pool.statistics().peak == 7
    pool.shutdown()


def test_blocking_outside_a_worker_is_harmless() -> None:
    with blocking():
        pass


def test_shutdown_cancels_queued_work_and_refuses_more() -> None:
    pool = WorkerThreads(limit=1, name="test-shutdown")
    gate = threading.Event()
    first = pool.submit(gate.wait, 10)
    queued = pool.submit(int)
    pool.shutdown()
    assert queued.cancelled()
    gate.set()
    assert first.result(10) is True
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(int)
    with pytest.raises(ValueError, match="limit"):
        WorkerThreads(limit=0)


def test_idle_workers_retire_and_are_replaced() -> None:
    pool = WorkerThreads(limit=2, name="test-idle", idle_timeout=0)
    assert pool.submit(int, 3).result(10) == 3
    for thread in threading.enumerate():
        if thread.name.startswith("test-idle-"):
            thread.join(10)  # an idle worker with no idle time left retires at once
    assert pool.statistics().threads == 0
    assert pool.submit(int, 4).result(10) == 4
    pool.shutdown()


async def test_run_in_thread_carries_the_context_and_reports_abandoned_work() -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("caller's")
    assert await run_in_thread(var.get) == "caller's"

    started, release = threading.Event(), threading.Event()
    abandoned: list[object] = []

    def body() -> str:
        started.set()
        release.wait(10)
        return "done"

    task = asyncio.ensure_future(run_in_thread(body, on_abandon=abandoned.append))
    await asyncio.to_thread(started.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    (work,) = abandoned
    assert await asyncio.wrap_future(work) == "done"  # type: ignore[arg-type]
