"""``runtree._async``: the one "is this callable async?" check, and its runtime twin."""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
import threading
from typing import Any

import pytest

from runtree._async import close_loop, is_async_callable, maybe_await, new_loop


async def coroutine_function(x: int) -> int:
    return x


def plain_function(x: int) -> int:
    return x


class AsyncCall:
    async def __call__(self, x: int) -> int:
        return x

    async def method(self, x: int) -> int:
        return x


class SyncCall:
    def __call__(self, x: int) -> int:
        return x


class PartialCall:
    __call__ = functools.partialmethod(AsyncCall.method, 1)


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        (coroutine_function, True),
        (plain_function, False),
        (AsyncCall(), True),
        (AsyncCall().method, True),
        (functools.partial(coroutine_function, 1), True),
        (functools.partial(functools.partial(coroutine_function), 1), True),
        (functools.partial(AsyncCall(), 1), True),
        (SyncCall(), False),
        (functools.partial(plain_function, 1), False),
        (AsyncCall, False),  # calling a class builds an instance
        (print, False),
        (lambda x: coroutine_function(x), False),  # undecidable: see maybe_await
        (42, False),
    ],
)
def test_is_async_callable(candidate: Any, expected: bool) -> None:
    assert is_async_callable(candidate) is expected


async def test_maybe_await_awaits_what_is_awaitable() -> None:
    assert await maybe_await(3) == 3
    assert await maybe_await(coroutine_function(4)) == 4
    returns_awaitable = lambda x: coroutine_function(x)  # noqa: E731
    assert await maybe_await(returns_awaitable(5)) == 5


def test_a_forked_child_closing_a_loop_leaves_it_working_in_the_parent() -> None:
    """A child made by fork shares the loop's epoll instance: had the child's close()
    unregistered the loop's wake-up socket, the parent's loop would never again notice
    work handed to it from another thread."""
    loop = new_loop()  # idle, like a worker thread's loop between two tasks
    # the child runs loop.close() between fork and exec, as a child that frees the parent's
    # objects does (thread-local values of the parent's other threads go at once)
    subprocess.run([sys.executable, "-c", "pass"], preexec_fn=loop.close, check=True)
    assert not loop.is_closed()
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    try:

        async def answer() -> int:
            return 42

        assert asyncio.run_coroutine_threadsafe(answer(), loop).result(timeout=30) == 42
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        close_loop(loop)
    assert loop.is_closed()
