"""Limits shared by every call of a node in a run: how many run at once
(:class:`ConcurrencyLimit`) and how many may start per interval (:class:`RateLimit`).

Both hand out their slots first come, first served, belong to one event loop (the
session's, where every call starts whatever strategy runs it), and take their clock and
sleep as arguments so tests need no real time.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import time

from runtree.errors import ConfigurationError
from runtree.policy.clock import Clock, Sleep
from runtree.policy.retry import check_number

__all__ = ["ConcurrencyLimit", "LimitStatistics", "RateLimit"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LimitStatistics:
    """``active``: slots in use; ``waiting``: callers queued; ``acquired``: slots handed out
    so far; ``waited``: how many of them had to wait; ``peak``: the most in use at once."""

    active: int
    waiting: int
    acquired: int
    waited: int
    peak: int


class ConcurrencyLimit:
    """At most ``limit`` holders at once; the others wait in arrival order.

    ``async with limit:`` holds a slot for the block. Cancelling a waiter leaves the queue
    as if it had never come.
    """

    def __init__(self, limit: int, *, name: str = "concurrency") -> None:
        check_number(limit, f"{name} limit", minimum=1, integer=True)
        self.limit = limit
        self.name = name
        self._active = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._acquired = 0
        self._waited = 0
        self._peak = 0

    async def acquire(self) -> None:
        """Wait for a slot (at once when one is free and nobody is queued)."""
        if self._active < self.limit and not self._waiters:
            self._take()
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # release() hands the slot over: already counted as ours
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot came just as we were cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):  # release() may have dropped it
                    self._waiters.remove(waiter)
            raise
        self._waited += 1

    def release(self) -> None:
        """Give a slot back (to the first waiter, if any)."""
        if self._active <= 0:
            raise RuntimeError(f"{self.name}: release() without acquire()")
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._acquired += 1  # the slot passes on: active stays the same
                waiter.set_result(None)
                return
        self._active -= 1

    def _take(self) -> None:
        self._active += 1
        self._acquired += 1
        self._peak = max(self._peak, self._active)

    async def __aenter__(self) -> ConcurrencyLimit:
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    def statistics(self) -> LimitStatistics:
        return LimitStatistics(
            active=self._active,
            waiting=len(self._waiters),
            acquired=self._acquired,
            waited=self._waited,
            peak=self._peak,
        )

    def __repr__(self) -> str:
        return f"<ConcurrencyLimit {self.name!r} {self._active}/{self.limit}>"


class RateLimit:
    """At most ``calls`` starts in any window of ``per`` seconds (a sliding window).

    :meth:`acquire` returns at once while the window has room; otherwise it sleeps until
    the oldest start leaves the window. Waiters are served in arrival order.
    """

    def __init__(
        self,
        calls: int,
        per: float,
        *,
        name: str = "rate",
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        check_number(calls, f"{name} calls", minimum=1, integer=True)
        check_number(per, f"{name} per (seconds)", minimum=0, positive=True)
        if not callable(clock) or not callable(sleep):
            raise ConfigurationError(f"{name}: clock and sleep must be callables")
        self.calls = calls
        self.per = float(per)
        self.name = name
        self._clock = clock
        self._sleep = sleep
        self._starts: collections.deque[float] = collections.deque()
        self._turn = asyncio.Lock()  # one waiter at a time keeps the arrival order
        self._acquired = 0
        self._waited = 0
        self._queued = 0

    async def acquire(self) -> None:
        """Wait until a start is allowed, and record it."""
        if not self._turn.locked() and self._try_start():
            return
        self._queued += 1
        try:
            async with self._turn:
                while not self._try_start():
                    wait = self._starts[0] + self.per - self._clock()
                    await self._sleep(max(wait, 0.0))
        finally:
            self._queued -= 1
        self._waited += 1

    def _try_start(self) -> bool:
        now = self._clock()
        starts = self._starts
        while starts and starts[0] <= now - self.per:
            starts.popleft()
        if len(starts) < self.calls:
            starts.append(now)
            self._acquired += 1
            return True
        return False

    def statistics(self) -> LimitStatistics:
        return LimitStatistics(
            active=len(self._starts),
            waiting=self._queued,
            acquired=self._acquired,
            waited=self._waited,
            peak=self.calls,
        )

    def __repr__(self) -> str:
        return f"<RateLimit {self.name!r} {self.calls}/{self.per}s>"
