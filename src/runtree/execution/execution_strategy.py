"""Execution strategies: *how* a :class:`~runtree.execution.task.Task` runs.

* :class:`AsyncioExecutionStrategy` (``"async"``) awaits the node in the caller's task.
* :class:`ThreadExecutionStrategy` (``"thread"``) runs it on an event loop of its own in a
  pool thread; calls the node makes hop back to the session's loop.
* :class:`ProcessExecutionStrategy` (``"process"``, in :mod:`runtree.execution.process`,
  importable from here too) runs it in a worker process of its own pool; the calls it makes
  there belong to the caller's run (see :mod:`runtree.execution.remote`).

Every strategy returns the node's result or raises the node's own exception.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from runtree.execution.task import Task

if TYPE_CHECKING:
    from runtree.execution.process import ProcessExecutionStrategy
    from runtree.execution.remote import WorkerScope

__all__ = [
    "AsyncioExecutionStrategy",
    "ExecutionStrategy",
    "ProcessExecutionStrategy",
    "ThreadExecutionStrategy",
    "WorkerScope",
]


class ExecutionStrategy(abc.ABC):
    """Runs tasks. Implementations must return the node's result or raise its exception,
    and propagate cancellation of the awaiting task to the work when they can."""

    #: the mode name this strategy is usually registered under
    mode: str = ""

    @abc.abstractmethod
    def execute(self, task: Task[Any]) -> Awaitable[Any]:
        """An awaitable that runs ``task`` and gives its result (usually ``async def``)."""

    def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Release pools and workers. Safe to call more than once."""


class AsyncioExecutionStrategy(ExecutionStrategy):
    """Awaits the node directly in the calling task: the cheapest strategy."""

    mode = "async"

    def execute(self, task: Task[Any]) -> Awaitable[Any]:
        return task.invoke()  # awaited by the caller: no frame of our own on the hot path


class ThreadExecutionStrategy(ExecutionStrategy):
    """Runs each task on a pool thread, inside an event loop owned by that thread.

    Cancelling the awaiting task cancels the node's coroutine in its thread.
    """

    mode = "thread"

    def __init__(self, *, max_workers: int | None = None) -> None:
        self._max_workers = max_workers
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._lock = threading.Lock()

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = concurrent.futures.ThreadPoolExecutor(
                        max_workers=self._max_workers, thread_name_prefix="runtree-thread"
                    )
                pool = self._pool
        return pool

    def _thread_loop(self) -> asyncio.AbstractEventLoop:
        loop: asyncio.AbstractEventLoop | None = getattr(self._local, "loop", None)
        if loop is None:
            loop = asyncio.new_event_loop()
            self._local.loop = loop
            with self._lock:
                self._loops.append(loop)
        return loop

    def _run(self, context: contextvars.Context, task: Task[Any], handle: list[Any]) -> Any:
        loop = self._thread_loop()
        inner = context.run(loop.create_task, task.invoke())
        handle.append((loop, inner))
        return loop.run_until_complete(inner)

    async def execute(self, task: Task[Any]) -> Any:
        handle: list[Any] = []
        future = self._executor().submit(self._run, contextvars.copy_context(), task, handle)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if handle:
                loop, inner = handle[0]
                if not loop.is_closed():
                    loop.call_soon_threadsafe(inner.cancel)
            raise

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            loops, self._loops = self._loops, []
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        for loop in loops:
            if not loop.is_running():
                loop.close()


def __getattr__(name: str) -> Any:
    # the process strategy lives in its own module (which imports this one)
    if name == "ProcessExecutionStrategy":
        from runtree.execution.process import ProcessExecutionStrategy

        return ProcessExecutionStrategy
    if name == "WorkerScope":
        from runtree.execution.remote import WorkerScope

        return WorkerScope
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
