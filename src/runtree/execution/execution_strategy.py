"""Execution strategies: *how* a :class:`~runtree.execution.task.Task` runs.

* :class:`AsyncioExecutionStrategy` (``"async"``) awaits the node in the caller's task.
* :class:`ThreadExecutionStrategy` (``"thread"``) runs it on an event loop of its own in a
  worker thread; calls the node makes hop back to the session's loop.
* :class:`ProcessExecutionStrategy` (``"process"``, in :mod:`runtree.execution.process`,
  importable from here too) runs it in a worker process of its own pool; the calls it makes
  there belong to the caller's run (see :mod:`runtree.execution.remote`).

Every strategy returns the node's result or raises the node's own exception.
"""

from __future__ import annotations

import abc
import asyncio
import contextvars
import threading
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from runtree._async import new_loop
from runtree._threads import DEFAULT_LIMIT, WorkerThreads
from runtree.execution.task import Task
from runtree.nodes.node import abandon

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


class _ThreadRun:
    """One task on the thread strategy: its loop and coroutine's task once started, and
    whether the caller asked to cancel it (read by both threads; no lock is needed because
    each side writes before it reads the other's field)."""

    __slots__ = ("cancelled", "inner", "loop")

    def __init__(self) -> None:
        self.cancelled = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.inner: asyncio.Task[Any] | None = None


class _LoopHolder:
    """A worker thread's event loop, closed when the thread ends (thread-local value)."""

    __slots__ = ("loop",)

    def __init__(self) -> None:
        self.loop = new_loop()

    def __del__(self) -> None:
        if not self.loop.is_running() and not self.loop.is_closed():
            self.loop.close()


class ThreadExecutionStrategy(ExecutionStrategy):
    """Runs each task on a worker thread, inside an event loop owned by that thread.

    At most ``max_workers`` tasks run at once (default :data:`runtree._threads.DEFAULT_LIMIT`);
    a node waiting for calls it made does not count, so nesting never deadlocks. Cancelling
    the awaiting task cancels the node's coroutine in its thread; the caller does not wait
    for that to take effect: the node is noted as abandoned (:func:`runtree.nodes.node.abandon`)
    and its request is recorded with the outcome it really had (cancelled, or finished if it
    could not be stopped in time).
    """

    mode = "thread"

    def __init__(self, *, max_workers: int | None = None) -> None:
        self._max_workers = max_workers
        self._pool: WorkerThreads | None = None
        self._local = threading.local()
        self._lock = threading.Lock()

    def _threads(self) -> WorkerThreads:
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = WorkerThreads(
                        limit=self._max_workers or DEFAULT_LIMIT, name="runtree-thread"
                    )
                pool = self._pool
        return pool

    def _thread_loop(self) -> asyncio.AbstractEventLoop:
        holder: _LoopHolder | None = getattr(self._local, "holder", None)
        if holder is None or holder.loop.is_closed():
            holder = self._local.holder = _LoopHolder()
        return holder.loop

    def _run(self, context: contextvars.Context, task: Task[Any], run: _ThreadRun) -> Any:
        loop = self._thread_loop()
        inner = context.run(loop.create_task, task.invoke())
        run.loop, run.inner = loop, inner
        if run.cancelled:
            inner.cancel()
        return loop.run_until_complete(inner)

    async def execute(self, task: Task[Any]) -> Any:
        run = _ThreadRun()
        future = self._threads().submit(self._run, contextvars.copy_context(), task, run)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if not future.cancel():  # started: stop the coroutine in its own loop
                run.cancelled = True
                loop, inner = run.loop, run.inner
                if loop is not None and inner is not None and not loop.is_closed():
                    loop.call_soon_threadsafe(inner.cancel)
                abandon(task.node, future)
            raise

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown()


def __getattr__(name: str) -> Any:
    # the process strategy lives in its own module (which imports this one)
    if name == "ProcessExecutionStrategy":
        from runtree.execution.process import ProcessExecutionStrategy

        return ProcessExecutionStrategy
    if name == "WorkerScope":
        from runtree.execution.remote import WorkerScope

        return WorkerScope
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
