"""ConcurrencyLimit and RateLimit, with an injected clock (no real waiting)."""

from __future__ import annotations

import asyncio

import pytest

import runtree as rt
from runtree.policy import ConcurrencyLimit, RateLimit


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def test_at_most_limit_holders_and_waiters_are_served_in_order() -> None:
    limit = ConcurrencyLimit(2)
    order: list[str] = []
    release = asyncio.Event()

    async def hold(label: str) -> None:
        async with limit:
            order.append(f"in {label}")
            await release.wait()
            order.append(f"out {label}")

    tasks = [asyncio.create_task(hold(str(i))) for i in range(5)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert order == ["in 0", "in 1"]
    stats = limit.statistics()
    assert (stats.active, stats.waiting, stats.peak) == (2, 3, 2)
    release.set()
    await asyncio.gather(*tasks)
    assert [entry for entry in order if entry.startswith("in")] == [f"in {i}" for i in range(5)]
    stats = limit.statistics()
    assert (stats.active, stats.waiting, stats.acquired, stats.waited, stats.peak) == (
        0,
        0,
        5,
        3,
        2,
    )


async def test_a_cancelled_waiter_leaves_no_trace() -> None:
    limit = ConcurrencyLimit(1)
    await limit.acquire()
    waiter = asyncio.create_task(limit.acquire())
    await asyncio.sleep(0)
    assert limit.statistics().waiting == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limit.statistics().waiting == 0
    limit.release()
    assert limit.statistics().active == 0
    with pytest.raises(RuntimeError, match="without acquire"):
        limit.release()


async def test_a_slot_handed_to_a_waiter_cancelled_at_that_moment_is_passed_on() -> None:
    limit = ConcurrencyLimit(1)
    await limit.acquire()
    first = asyncio.create_task(limit.acquire())
    second = asyncio.create_task(limit.acquire())
    await asyncio.sleep(0)
    limit.release()  # hands the slot to `first`...
    first.cancel()  # ...which is cancelled before it runs again
    with pytest.raises(asyncio.CancelledError):
        await first
    await second  # the slot went on to the next waiter
    assert limit.statistics().active == 1


async def test_rate_limit_lets_calls_through_per_window_and_waits_for_the_rest() -> None:
    time = FakeTime()
    rate = RateLimit(2, 1.0, clock=time.clock, sleep=time.sleep)
    starts: list[float] = []
    for _ in range(5):
        await rate.acquire()
        starts.append(time.now)
    assert starts == [0.0, 0.0, 1.0, 1.0, 2.0]
    stats = rate.statistics()
    assert (stats.acquired, stats.waited) == (5, 2)  # the 4th found room at t=1


async def test_rate_limit_serves_concurrent_waiters_in_arrival_order() -> None:
    time = FakeTime()
    rate = RateLimit(1, 10.0, clock=time.clock, sleep=time.sleep)
    order: list[int] = []

    async def start(i: int) -> None:
        await rate.acquire()
        order.append(i)

    await asyncio.gather(*(start(i) for i in range(4)))
    assert order == [0, 1, 2, 3]
    assert time.now == 30.0


def test_limits_refuse_bad_settings() -> None:
    with pytest.raises(rt.ConfigurationError, match="limit must be >= 1"):
        ConcurrencyLimit(0)
    with pytest.raises(rt.ConfigurationError, match=r"^rate per \(seconds\) must be > 0, got 0$"):
        RateLimit(1, 0)
    with pytest.raises(rt.ConfigurationError, match="calls must be an int"):
        RateLimit(1.5, 1)  # type: ignore[arg-type]
