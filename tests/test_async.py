"""``runtree._async``: the one "is this callable async?" check, and its runtime twin."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from runtree._async import is_async_callable, maybe_await


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
