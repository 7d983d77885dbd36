"""Execution strategies: *how* a :class:`~runtree.execution.task.Task` runs.

* :class:`AsyncioExecutionStrategy` (``"async"``) awaits the node in the caller's task.
* :class:`ThreadExecutionStrategy` (``"thread"``) runs it on an event loop of its own in a
  worker thread; calls the node makes hop back to the session's loop.
* :class:`ProcessExecutionStrategy` (``"process"``) ships it as a pickled
  :class:`~runtree.nodes.NodeState` to a worker process (``spawn`` start method) and brings
  back the result or the exception, plus the node's ``details``.

Every strategy returns the node's result or raises the node's own exception.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import contextvars
import threading
import traceback
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from runtree._threads import DEFAULT_LIMIT, WorkerThreads
from runtree.errors import ExecutionError, RemoteError
from runtree.execution.task import Task
from runtree.nodes.node import Node, abandon
from runtree.nodes.state import NodeState
from runtree.pubsub.messages import NodeFailed, NodeFinished, NodeStarted, summarise
from runtree.pubsub.publisher import current_publisher

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
        self.loop = asyncio.new_event_loop()

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


#: Opens the context a worker runs its node in, given the request id; what it yields, called
#: after the node ran, returns the requests the node made there (as ``RequestRecord.to_dict``
#: dicts). The session layer provides one that opens a worker-side session.
WorkerScope = Callable[[str], AbstractAsyncContextManager[Callable[[], list[dict[str, Any]]]]]


async def _invoke_in_scope(
    node: Node[Any], request_id: str, scope: WorkerScope | None
) -> tuple[str, Any, list[dict[str, Any]]]:
    if scope is None:
        try:
            return "ok", await node.tracked_invoke(), []
        except BaseException as exc:  # reported like any failure; the worker lives on
            return "error", exc, []
    async with scope(request_id) as nested_requests:
        try:
            outcome: tuple[str, Any] = ("ok", await node.tracked_invoke())
        except BaseException as exc:
            outcome = ("error", exc)
        return outcome[0], outcome[1], nested_requests()


def _run_in_worker(payload: bytes, request_id: str, scope: WorkerScope | None) -> bytes:
    """Entry point in the worker process: run the node, return a pickled outcome."""
    import cloudpickle

    node = NodeState.from_bytes(payload, allow_pickle=True).instantiate()
    node.uuid = request_id
    status, value, nested = asyncio.run(_invoke_in_scope(node, request_id, scope))
    if status == "error":
        exc = value
        remote_tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        try:
            return bytes(cloudpickle.dumps(("error", exc, remote_tb, node.details, nested)))
        except Exception:
            substitute = RemoteError(
                f"{type(exc).__name__}: {exc}",
                type_name=f"{type(exc).__module__}.{type(exc).__qualname__}",
                remote_traceback=remote_tb,
            )
            return bytes(cloudpickle.dumps(("error", substitute, remote_tb, node.details, nested)))
    try:
        return bytes(cloudpickle.dumps(("ok", value, "", node.details, nested)))
    except Exception as exc:
        error = ExecutionError(
            f"node {node.name()!r} returned a {type(value).__name__} that cannot be pickled "
            f"back from its worker process: {exc}"
        )
        return bytes(cloudpickle.dumps(("error", error, "", node.details, nested)))


class ProcessExecutionStrategy(ExecutionStrategy):
    """Runs each task in a worker process (a ``spawn``-started ``ProcessPoolExecutor``).

    The node travels as a pickled ``NodeState``. ``worker_scope`` (see :data:`WorkerScope`)
    wraps the node's run in the worker; the requests the node made there come back in
    ``task.remote_requests`` for the caller to add to its tree. Without one, calls the node
    makes run in temporary sessions of the worker and are not reported. A cancelled task
    that already started runs to completion in its worker and its result is discarded.
    ``node.*`` events are published here, from the worker's timings.
    """

    mode = "process"

    def __init__(
        self,
        *,
        max_workers: int | None = None,
        start_method: str = "spawn",
        worker_scope: WorkerScope | None = None,
    ) -> None:
        self._worker_scope = worker_scope
        self._max_workers = max_workers
        self._start_method = start_method
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                import multiprocessing

                self._pool = concurrent.futures.ProcessPoolExecutor(
                    max_workers=self._max_workers,
                    mp_context=multiprocessing.get_context(self._start_method),
                )
            return self._pool

    async def execute(self, task: Task[Any]) -> Any:
        import pickle

        node = task.node
        payload = NodeState(node).to_bytes("pickle")
        publisher = current_publisher.get()
        if publisher is not None and publisher.wants(NodeStarted):
            from runtree.nodes.node import public_attributes

            publisher.publish(
                NodeStarted(uuid=task.request_id, name=node.name(), params=public_attributes(node))
            )
        loop = asyncio.get_running_loop()
        try:
            raw = await loop.run_in_executor(
                self._executor(), _run_in_worker, payload, task.request_id, self._worker_scope
            )
        except concurrent.futures.BrokenExecutor as exc:
            with self._lock:
                self._pool = None  # a dead worker poisons the pool; start afresh next time
            raise ExecutionError(f"worker process for node {node.name()!r} died: {exc}") from exc
        try:
            status, value, remote_tb, details, nested = pickle.loads(raw)
        except Exception as exc:
            raise RemoteError(
                f"the outcome of node {node.name()!r} could not be unpickled here: {exc}",
                type_name=type(exc).__name__,
            ) from exc
        node.details = details
        task.remote_requests = nested
        latency = details.get("latency")
        latency_ms = 0.0 if latency is None else latency.total_time * 1000.0
        if status == "ok":
            if publisher is not None and publisher.wants(NodeFinished):
                publisher.publish(
                    NodeFinished(
                        uuid=task.request_id, latency_ms=latency_ms, output_summary=summarise(value)
                    )
                )
            return value
        if publisher is not None and publisher.wants(NodeFailed):
            publisher.publish(
                NodeFailed(
                    uuid=task.request_id, latency_ms=latency_ms, exception_type=type(value).__name__
                )
            )
        if remote_tb and hasattr(value, "add_note"):
            value.add_note(f"raised in a runtree worker process:\n{remote_tb}")
        raise value

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
