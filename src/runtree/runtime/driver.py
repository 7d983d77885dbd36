"""``LoopDriver``: the private event loop of a synchronous session.

``with rt.Session():`` owns an event loop that no thread runs permanently. A thread that
needs it (``rt.call_sync`` from the session's thread, from a synchronous node, from any
thread carrying the session's context) *drives* it: if nobody is driving, it runs the loop
itself until its own call is done; otherwise it hands the call to the driver and waits,
ready to take over the moment the driver stops. So calls from any thread always progress,
and the single-threaded case pays for no thread hop at all.

Most calls finish without ever waiting for I/O or a timer. For those the driver does not go
through ``run_until_complete`` (about 25 µs of loop set-up, polling and tear-down): it marks
the loop as running in this thread, creates the call's task and runs the loop's ready
callbacks until the task is done, exactly as one loop iteration would, only without polling.
If the task is still waiting after that, the driver falls back to ``run_until_complete``.
The task is a real :class:`asyncio.Task` on a real loop, so ``asyncio.current_task()``,
``asyncio.get_running_loop()`` and ``asyncio.timeout`` behave as usual inside nodes.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextvars
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from runtree._async import ForkSafeLoop, close_loop
from runtree._threads import blocking

__all__ = ["LoopDriver", "cancel_all_tasks", "cancel_all_tasks_and_wait"]

T = TypeVar("T")

#: ready callbacks run by the fast path before it falls back to the full loop; a call that
#: is not done by then is waiting for I/O, a timer or another thread
_FAST_PASSES = 32
#: the longest the main thread waits on a lock without looking at signals: a Ctrl-C that
#: comes just before it blocks would otherwise wait until the lock is released
_SIGNAL_CHECK = 0.2


class _DrivenLoop(ForkSafeLoop):
    """The default selector loop plus :meth:`start`, the fast path described above.

    It reads the loop's ready queue (``_ready``) and running markers, which every CPython
    from 3.10 to 3.13 has; :func:`_fast_path_available` checks them once, at creation.
    """

    def __init__(self) -> None:
        super().__init__()
        self._first_step: tuple[Callable[..., object], tuple[Any, ...], contextvars.Context] | None
        self._first_step = None
        #: the thread that keeps this loop's async-generator hooks set (see LoopDriver)
        self.owner: int | None = None
        #: this loop's async-generator hooks (bound once: compared by identity)
        self.asyncgen_hooks = (
            self._asyncgen_firstiter_hook,  # type: ignore[attr-defined]
            self._asyncgen_finalizer_hook,  # type: ignore[attr-defined]
        )

    def start(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Create the task of ``coroutine`` and run ready callbacks until it is done or
        nothing is ready; the task is returned, done or still waiting."""
        thread = self._thread_id = threading.get_ident()
        hooks = None
        if thread != self.owner:  # the session's thread keeps them set (see LoopDriver)
            hooks = sys.get_asyncgen_hooks()
            sys.set_asyncgen_hooks(*self.asyncgen_hooks)
        asyncio._set_running_loop(self)
        try:
            if self._task_factory is None:  # type: ignore[attr-defined]
                self.call_soon = self._keep_first_step  # type: ignore[method-assign,assignment]
                try:
                    task = asyncio.Task(coroutine, loop=self, name="runtree-call")
                finally:
                    del self.call_soon
            else:
                task = self.create_task(coroutine)
            first, self._first_step = self._first_step, None
            if first is not None:  # the task's first step, run as its Handle would run it
                callback, args, context = first
                context.run(callback, *args)
            ready: collections.deque[asyncio.Handle] = self._ready  # type: ignore[attr-defined]
            passes = _FAST_PASSES
            while ready and passes and not task.done():
                passes -= 1
                for _ in range(len(ready)):
                    handle = ready.popleft()
                    if not handle._cancelled:
                        handle._run()
        finally:
            asyncio._set_running_loop(None)
            if hooks is not None:
                sys.set_asyncgen_hooks(*hooks)
            self._thread_id = None  # type: ignore[assignment]
        return task

    def _keep_first_step(
        self,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle | None:
        # While start() creates its task, the task asks for its first step to be scheduled:
        # it is kept here and run at once, without a Handle or a pass through the queue.
        if self._first_step is not None:  # not the task's first step: schedule it as usual
            return ForkSafeLoop.call_soon(self, callback, *args, context=context)
        self._first_step = (callback, args, context or contextvars.copy_context())
        return None


def _fast_path_available(loop: asyncio.AbstractEventLoop) -> bool:
    return (
        isinstance(loop, _DrivenLoop)
        and isinstance(getattr(loop, "_ready", None), collections.deque)
        and hasattr(loop, "_thread_id")
        and hasattr(loop, "_asyncgen_firstiter_hook")
        and hasattr(asyncio.Handle, "_run")
        and not loop.get_debug()
    )


def _new_loop() -> asyncio.AbstractEventLoop:
    """A :class:`_DrivenLoop` unless the event loop policy makes another kind (uvloop...)."""
    loop = asyncio.new_event_loop()
    if type(loop) is not asyncio.SelectorEventLoop:
        return loop
    loop.close()
    return _DrivenLoop()


class LoopDriver:
    """Runs coroutines on a private loop for any number of synchronous threads."""

    def __init__(self) -> None:
        self.loop = _new_loop()
        self._fast = _fast_path_available(self.loop)
        # The creating thread (the session's) keeps the loop's async-generator hooks set
        # while the session is open, so its calls need not set and restore them each time.
        self._owner = threading.get_ident()
        self._saved_hooks: Any = None
        if isinstance(self.loop, _DrivenLoop):
            self._saved_hooks = sys.get_asyncgen_hooks()
            sys.set_asyncgen_hooks(*self.loop.asyncgen_hooks)
            self.loop.owner = self._owner
        self._drive = threading.Lock()  # held by the thread running the loop
        self._cond = threading.Condition(threading.Lock())  # where the other threads wait
        self._waiters = 0

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and return its result (or raise its exception)."""
        drive = self._drive
        if not drive.acquire(blocking=False):
            return self._run_beside_driver(coroutine)
        try:
            if self._fast:
                task = self.loop.start(coroutine)  # type: ignore[attr-defined]
                if task.done():
                    result: T = task.result()
                    return result
                return self.loop.run_until_complete(task)  # type: ignore[no-any-return]
            return self.loop.run_until_complete(coroutine)
        finally:
            drive.release()
            if self._waiters:
                self._wake_waiters()

    def _release(self) -> None:
        self._drive.release()
        if self._waiters:
            self._wake_waiters()

    def _wake_waiters(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _run_beside_driver(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Another thread drives the loop: hand it the call, and take over the loop if it
        stops driving before the call is done."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        cond = self._cond

        def wake(_: concurrent.futures.Future[T]) -> None:
            with cond:
                cond.notify_all()

        future.add_done_callback(wake)
        timeout = _SIGNAL_CHECK if threading.current_thread() is threading.main_thread() else None
        with blocking(), cond:
            self._waiters += 1
            try:
                while not future.done():
                    if self._drive.acquire(blocking=False):
                        break
                    cond.wait(timeout)
                else:
                    return future.result()
            finally:
                self._waiters -= 1
        try:  # this thread drives now
            self.loop.run_until_complete(asyncio.wrap_future(future, loop=self.loop))
        finally:
            self._release()
        return future.result()

    def call_soon(self, callback: Any, *args: Any) -> None:
        """Schedule ``callback(*args)`` on the loop from any thread (it runs as soon as a
        thread drives the loop)."""
        self.loop.call_soon_threadsafe(callback, *args)

    def close(self) -> None:
        """Cancel what is left on the loop, finish async generators and close it."""
        loop = self.loop
        if loop.is_closed():
            return
        with self._drive:
            try:
                close_loop(loop)
            finally:
                if self._saved_hooks is not None and threading.get_ident() == self._owner:
                    sys.set_asyncgen_hooks(*self._saved_hooks)
                    if isinstance(loop, _DrivenLoop):
                        loop.owner = None


def cancel_all_tasks() -> None:
    """On a private loop (scheduled with :meth:`LoopDriver.call_soon`): cancel every task."""
    for task in asyncio.all_tasks():
        task.cancel()


async def cancel_all_tasks_and_wait(timeout: float) -> None:
    """On a private loop, before it closes: cancel the other tasks (calls other threads still
    wait for) and wait at most ``timeout`` seconds for them to end."""
    current = asyncio.current_task()
    left = [task for task in asyncio.all_tasks() if task is not current]
    for task in left:
        task.cancel()
    if left:
        await asyncio.wait(left, timeout=timeout)
