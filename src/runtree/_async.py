"""The one answer to "is this callable async?" and its runtime twin (not public API).

Every part of runtree that accepts a user callback asks here, so functions, bound methods,
``functools.partial`` objects, objects with an ``async def __call__`` and callables that
merely *return* an awaitable are treated alike everywhere.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
from typing import Any

__all__ = ["ForkSafeLoop", "close_loop", "is_async_callable", "maybe_await", "new_loop"]


def is_async_callable(obj: object) -> bool:
    """Whether calling ``obj`` returns a coroutine, as far as can be told without calling it.

    True for ``async def`` functions, bound methods of them, ``functools.partial`` objects
    around any of these, and instances whose class defines ``async def __call__``. A plain
    function that returns an awaitable cannot be recognised here: callers that must handle
    it check the result with :func:`inspect.isawaitable` (see :func:`maybe_await`).
    """
    while isinstance(obj, functools.partial):
        obj = obj.func
    if inspect.iscoroutinefunction(obj):
        return True
    if isinstance(obj, type) or inspect.isroutine(obj):
        return False  # calling a class constructs; a sync routine is sync
    call = getattr(type(obj), "__call__", None)  # noqa: B004 - objects with async __call__
    return call is not None and is_async_callable(call)


async def maybe_await(value: Any) -> Any:
    """``await value`` if it is awaitable, else return it."""
    if inspect.isawaitable(value):
        return await value
    return value


class ForkSafeLoop(asyncio.SelectorEventLoop):
    """An event loop that a forked child process never closes.

    A child made by ``fork()`` shares the parent's epoll instance (the selector), and
    closing a loop unregisters its wake-up socket from that instance. A child that drops
    the parent's loops (the thread-local values of the parent's other threads are freed at
    once after a fork: ``subprocess`` with ``preexec_fn``, ``multiprocessing``'s fork start
    method, ``os.fork()``) would thus leave the parent's loop deaf to
    ``call_soon_threadsafe``: a call handed to it from another thread would wait forever.
    In a child, this loop's ``close`` does nothing (the child's copies of its descriptors
    go when the child exits or execs).
    """

    def __init__(self) -> None:
        super().__init__()
        self._owner_pid = os.getpid()

    def close(self) -> None:
        if os.getpid() == self._owner_pid:
            super().close()

    def __del__(self) -> None:
        if os.getpid() == self._owner_pid:
            super().__del__()


def new_loop() -> asyncio.AbstractEventLoop:
    """A new event loop for a thread runtree owns (safe across ``fork()``; see
    :class:`ForkSafeLoop`). Every loop runtree creates for a thread of its own comes from
    here."""
    return ForkSafeLoop()


def close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Finish a loop this code owns, as ``asyncio.run`` does: cancel the tasks left on it and
    let them end, finish async generators and the default executor, then close it."""
    try:
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        if left:
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
