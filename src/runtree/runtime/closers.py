"""``Closers``: what a session closes when it closes (``Session.on_close``)."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable

from runtree._async import maybe_await
from runtree._threads import shared_threads

__all__ = ["Closer", "Closers"]

logger = logging.getLogger("runtree")

Closer = Callable[[], Awaitable[None] | None]


class Closers:
    """Closers registered for one session, run last-registered first. One that raises is
    logged and the others still run: a closer never hides how the run ended."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._closers: list[Closer] = []

    def add(self, closer: Closer) -> None:
        self._closers.append(closer)

    def __bool__(self) -> bool:
        return bool(self._closers)

    def _take(self) -> list[Closer]:
        closers, self._closers = self._closers, []
        return closers[::-1]

    def _failed(self, closer: Closer) -> None:
        logger.exception("session %s: closer %r failed", self._label, closer)

    async def run(self) -> None:
        for closer in self._take():
            try:
                result = closer()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                self._failed(closer)

    def run_now(self) -> None:
        """:meth:`run` for a session closing on the thread that runs its loop (``with``
        inside async code): it cannot wait on that loop, so an async closer runs on a loop
        of its own in a worker thread."""
        for closer in self._take():
            try:
                result = closer()
                if inspect.isawaitable(result):
                    shared_threads().submit(asyncio.run, maybe_await(result)).result()
            except Exception:
                self._failed(closer)
