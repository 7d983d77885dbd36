"""A registered callback (queue subscriber or bus handler) and its counters."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, cast

from runtree._async import is_async_callable

__all__ = ["Callback", "Listener", "ListenerStatistics"]

#: A sync or async callable taking one argument.
Callback = Callable[[Any], object | Awaitable[object]]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ListenerStatistics:
    """How often a listener was called successfully (``delivered``) and how often it raised."""

    name: str
    pattern: str | None
    delivered: int
    failed: int


class Listener:
    """One callback with a name; returned by ``subscribe``/``on`` and accepted by ``off``.

    Sync callbacks run inline on the event loop (keep them short); async ones, and any whose
    result is awaitable, are awaited.
    """

    __slots__ = (
        "__weakref__",
        "active",
        "callback",
        "delivered",
        "failed",
        "is_async",
        "name",
        "pattern",
    )

    def __init__(self, callback: Callback, *, name: str, pattern: str | None = None) -> None:
        self.callback = callback
        self.name = name
        self.pattern = pattern
        self.is_async = is_async_callable(callback)
        self.delivered = 0
        self.failed = 0
        self.active = True

    def __repr__(self) -> str:
        on = f" on {self.pattern!r}" if self.pattern is not None else ""
        return f"<Listener {self.name!r}{on} delivered={self.delivered} failed={self.failed}>"

    def statistics(self) -> ListenerStatistics:
        return ListenerStatistics(
            name=self.name, pattern=self.pattern, delivered=self.delivered, failed=self.failed
        )

    async def invoke(self, argument: Any) -> Exception | None:
        """Call the callback; return the exception it raised (counted), or ``None``.

        Cancellation is not caught.
        """
        try:
            result = self.callback(argument)
            if self.is_async or inspect.isawaitable(result):
                await cast(Awaitable[Any], result)
        except Exception as exc:
            self.failed += 1
            return exc
        self.delivered += 1
        return None


def callback_name(callback: object, fallback: str) -> str:
    """A readable name for ``callback`` (its ``__qualname__`` or ``__name__``)."""
    name = getattr(callback, "__qualname__", None) or getattr(callback, "__name__", None)
    return str(name) if name else fallback
