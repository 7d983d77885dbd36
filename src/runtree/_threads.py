"""Threads for blocking work that nested waits cannot exhaust (not public API).

A :class:`WorkerThreads` pool runs at most ``limit`` pieces of work at once, like any pool,
with one difference: a worker that blocks waiting for *other runtree work* (a synchronous
node waiting in ``rt.call_sync`` for a child that needs a thread too, a thread-mode node
waiting for a call it made) says so with :func:`blocking`, stops counting against the limit,
and a queued piece of work starts in its place. Nested or concurrent synchronous calls
therefore never deadlock, however deep or wide, while unrelated work stays bounded.

Workers are daemon threads: a body that cannot be interrupted (a synchronous node) never
holds up the interpreter's exit, e.g. after Ctrl-C. Idle workers exit after
``idle_timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import contextvars
import dataclasses
import itertools
import os
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

__all__ = [
    "DEFAULT_LIMIT",
    "PoolStatistics",
    "WorkerThreads",
    "blocking",
    "run_in_thread",
    "run_on_loop",
    "shared_threads",
]

T = TypeVar("T")

#: default number of pieces of work running at once (not counting blocked workers)
DEFAULT_LIMIT = max(32, (os.cpu_count() or 1) + 4)

_local = threading.local()  # .pool: the WorkerThreads whose worker this thread is
_ids = itertools.count(1)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PoolStatistics:
    """Workers alive, running work (``active``), blocked in :func:`blocking`, idle, and
    work waiting for a worker (``queued``); ``peak`` is the most workers ever alive."""

    threads: int
    active: int
    blocked: int
    idle: int
    queued: int
    peak: int


class _Item:
    __slots__ = ("args", "fn", "future")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            result = self.fn(*self.args)
        except BaseException as exc:
            self.future.set_exception(exc)
        else:
            self.future.set_result(result)


class _Worker:
    __slots__ = ("item", "wake")

    def __init__(self, item: _Item | None) -> None:
        self.item = item
        self.wake = threading.Event()


class WorkerThreads:
    """A pool of daemon threads whose blocked workers do not count against ``limit``."""

    def __init__(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        name: str = "runtree-worker",
        idle_timeout: float = 60.0,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.limit = limit
        self.name = name
        self.idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._queue: collections.deque[_Item] = collections.deque()
        self._idle: list[_Worker] = []
        self._threads = 0
        self._active = 0
        self._blocked = 0
        self._peak = 0
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any) -> concurrent.futures.Future[T]:
        """Run ``fn(*args)`` on a worker; the future gives its result (cancel works until
        it starts)."""
        item = _Item(fn, args)
        with self._lock:
            if self._closed:
                raise RuntimeError(f"thread pool {self.name!r} is shut down")
            self._queue.append(item)
            self._dispatch()
        return item.future

    def _dispatch(self) -> None:
        """Under the lock: start queued work while fewer than ``limit`` run."""
        queue = self._queue
        while queue and self._active < self.limit:
            item = queue.popleft()
            self._active += 1
            if self._idle:
                worker = self._idle.pop()
                worker.item = item
                worker.wake.set()
            else:
                self._start(item)

    def _start(self, item: _Item) -> None:
        self._threads += 1
        self._peak = max(self._peak, self._threads)
        thread = threading.Thread(
            target=self._work, args=(_Worker(item),), name=f"{self.name}-{next(_ids)}", daemon=True
        )
        try:
            thread.start()
        except BaseException:
            self._threads -= 1
            self._active -= 1
            self._queue.appendleft(item)
            raise

    def _work(self, worker: _Worker) -> None:
        _local.pool = self
        try:
            while True:
                item = worker.item
                worker.item = None
                if item is not None:
                    item.run()
                    del item
                with self._lock:
                    self._active -= 1
                    if self._queue and self._active < self.limit and not self._closed:
                        worker.item = self._queue.popleft()
                        self._active += 1
                        continue
                    if self._closed:
                        return
                    worker.wake.clear()
                    self._idle.append(worker)
                if not worker.wake.wait(self.idle_timeout):
                    with self._lock:
                        if worker in self._idle:  # nobody handed it work: retire
                            self._idle.remove(worker)
                            return
                if worker.item is None:  # woken by shutdown
                    return
        finally:
            with self._lock:
                self._threads -= 1

    @contextlib.contextmanager
    def _blocking(self) -> Iterator[None]:
        with self._lock:
            self._active -= 1
            self._blocked += 1
            self._dispatch()
        try:
            yield
        finally:
            with self._lock:
                self._active += 1
                self._blocked -= 1

    def statistics(self) -> PoolStatistics:
        with self._lock:
            return PoolStatistics(
                threads=self._threads,
                active=self._active,
                blocked=self._blocked,
                idle=len(self._idle),
                queued=len(self._queue),
                peak=self._peak,
            )

    def shutdown(self) -> None:
        """Refuse new work, cancel queued work and let idle workers exit. Running work is
        not waited for (workers are daemon threads)."""
        with self._lock:
            self._closed = True
            queued, self._queue = list(self._queue), collections.deque()
            idle, self._idle = self._idle, []
        for item in queued:
            item.future.cancel()
        for worker in idle:
            worker.wake.set()


def blocking() -> contextlib.AbstractContextManager[None]:
    """Around a wait for other runtree work: if this thread is a pool worker, it stops
    counting against its pool's limit meanwhile (another worker may start)."""
    pool: WorkerThreads | None = getattr(_local, "pool", None)
    if pool is None:
        return contextlib.nullcontext()
    return pool._blocking()


async def run_on_loop(coroutine: Coroutine[Any, Any, T], loop: asyncio.AbstractEventLoop) -> T:
    """``await`` ``coroutine`` run on ``loop``, another thread's (a thread-mode node's call
    hopping to its session's loop). A pool worker waiting here frees its place in its pool
    meanwhile (:func:`blocking`), so nested calls never exhaust it."""
    future = asyncio.run_coroutine_threadsafe(coroutine, loop)
    with blocking():
        return await asyncio.wrap_future(future)


_shared: WorkerThreads | None = None
_shared_lock = threading.Lock()


def shared_threads() -> WorkerThreads:
    """The pool that runs synchronous node bodies and other blocking user code."""
    global _shared
    pool = _shared
    if pool is None:
        with _shared_lock:
            if _shared is None:
                _shared = WorkerThreads(name="runtree-sync")
            pool = _shared
    return pool


async def run_in_thread(
    fn: Callable[..., T],
    /,
    *args: Any,
    on_abandon: Callable[[concurrent.futures.Future[T]], None] | None = None,
) -> T:
    """``await`` ``fn(*args)`` run on :func:`shared_threads` in a copy of this context.

    Cancelling the caller cancels the work if it has not started; a started ``fn`` cannot
    be interrupted: it goes on, and ``on_abandon`` receives its future (which gives its
    true outcome) before ``CancelledError`` propagates.
    """
    future = shared_threads().submit(contextvars.copy_context().run, fn, *args)
    try:
        return await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        if not future.cancel() and on_abandon is not None:
            on_abandon(future)
        raise
