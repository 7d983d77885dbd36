"""Small internal helpers shared by the comm modules (not public API)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from runtree._async import maybe_await

__all__ = ["DEFAULT", "Default", "call_maybe_async", "unique_name", "wait"]

T = TypeVar("T")
_names = itertools.count(1)


class Default:
    """Marker type for "option not given" where ``None`` is a meaningful value."""

    _instance: Default | None = None

    def __new__(cls) -> Default:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DEFAULT"

    def __reduce__(self) -> str:
        return "DEFAULT"


DEFAULT = Default()


def unique_name(prefix: str) -> str:
    """``prefix-N`` with a process-wide counter."""
    return f"{prefix}-{next(_names)}"


async def call_maybe_async(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn(*args)`` and await the result if it is awaitable."""
    return await maybe_await(fn(*args))


def _expire(fut: asyncio.Future[Any], make_error: Callable[[], BaseException]) -> None:
    if not fut.done():
        fut.set_exception(make_error())


async def wait(
    fut: asyncio.Future[T] | Awaitable[T],
    timeout: float | None,
    make_error: Callable[[], BaseException],
) -> T:
    """Await ``fut``; after ``timeout`` seconds fail it with ``make_error()`` instead.

    ``fut`` must be a future this code owns (it is failed in place, not cancelled), so a
    caller can tell a timeout from a cancellation without ``asyncio.wait_for``'s extra task.
    """
    if timeout is None:
        return await fut
    if not isinstance(fut, asyncio.Future):  # pragma: no cover - internal misuse
        raise TypeError("wait() with a timeout needs a future")
    if timeout <= 0:
        _expire(fut, make_error)
        return await fut
    handle = asyncio.get_running_loop().call_later(timeout, _expire, fut, make_error)
    try:
        return await fut
    finally:
        handle.cancel()
