from __future__ import annotations

import asyncio

import pytest

import runtree.comm as comm
from runtree.errors import ConfigurationError, ContextError


async def test_drop_oldest_counts_and_reports_drops() -> None:
    dropped: list[int] = []
    queue: comm.MessageQueue[int] = comm.MessageQueue(max_size=3, on_drop=dropped.append)
    for i in range(5):
        await queue.publish(i)
    assert dropped == [0, 1]
    assert [queue.get_nowait() for _ in range(3)] == [2, 3, 4]
    stats = queue.statistics()
    assert (stats.published, stats.dropped, stats.consumed, stats.depth) == (5, 2, 3, 0)
    assert stats.overflow_policy == "drop_oldest"


async def test_reject_new_raises_and_counts() -> None:
    queue: comm.MessageQueue[int] = comm.MessageQueue(max_size=2, overflow_policy="reject_new")
    queue.publish_nowait(1)
    await queue.publish(2)
    with pytest.raises(comm.QueueFullError) as info:
        queue.publish_nowait(3)
    assert info.value.max_size == 2
    with pytest.raises(comm.QueueFullError):
        await queue.publish(4)
    stats = queue.statistics()
    assert (stats.published, stats.rejected, stats.dropped) == (2, 2, 0)
    assert [await queue.get(), await queue.get()] == [1, 2]


async def test_block_waits_for_room() -> None:
    queue: comm.MessageQueue[int] = comm.MessageQueue(max_size=1, overflow_policy="block")
    await queue.publish(1)
    with pytest.raises(comm.QueueFullError):
        queue.publish_nowait(2)
    blocked = asyncio.ensure_future(queue.publish(2))
    await asyncio.sleep(0)
    assert not blocked.done()
    assert await queue.get() == 1
    await blocked
    assert await queue.get() == 2
    with pytest.raises(comm.ChannelTimeoutError):
        await queue.get(timeout=0)
    await queue.publish(3)
    with pytest.raises(comm.ChannelTimeoutError):
        await queue.publish(4, timeout=0)
    stats = queue.statistics()
    assert (stats.published, stats.rejected, stats.timeouts, stats.dropped) == (3, 1, 2, 0)


async def test_every_subscriber_gets_every_message_in_order() -> None:
    queue: comm.MessageQueue[int] = comm.MessageQueue(max_size=100, name="q")
    sync_seen: list[int] = []
    async_seen: list[int] = []

    async def async_sub(message: int) -> None:
        await asyncio.sleep(0)
        async_seen.append(message)

    queue.subscribe(sync_seen.append, name="sync")
    queue.subscribe(async_sub)
    for i in range(50):
        queue.publish_nowait(i)
    await queue.aclose()
    assert sync_seen == async_seen == list(range(50))
    stats = queue.statistics()
    assert (stats.dispatched, stats.delivered, stats.failed, stats.consumed) == (50, 100, 0, 0)
    assert [s.name for s in stats.subscribers] == [
        "sync",
        "test_every_subscriber_gets_every_message_in_order.<locals>.async_sub",
    ]


async def test_a_failing_subscriber_is_isolated_and_counted() -> None:
    errors: list[comm.ErrorMessage] = []
    queue: comm.MessageQueue[int] = comm.MessageQueue(max_size=10, on_error=errors.append)
    good: list[int] = []

    def bad(message: int) -> None:
        if message % 2:
            raise ValueError(f"odd {message}")

    queue.subscribe(bad, name="bad")
    queue.subscribe(good.append, name="good")
    for i in range(4):
        await queue.publish(i)
    await queue.aclose()
    assert good == [0, 1, 2, 3]
    by_name = {s.name: s for s in queue.statistics().subscribers}
    assert (by_name["bad"].delivered, by_name["bad"].failed) == (2, 2)
    assert by_name["good"].delivered == 4
    assert [e.message for e in errors] == ["odd 1", "odd 3"]
    assert queue.recent_errors() == tuple(errors)
    assert errors[0].error_code == "subscriber_failed"


async def test_slow_subscribers_make_the_queue_apply_its_policy() -> None:
    gate = asyncio.Event()
    got: list[int] = []

    async def slow(message: int) -> None:
        await gate.wait()
        got.append(message)

    queue: comm.MessageQueue[int] = comm.MessageQueue(max_size=2)
    queue.subscribe(slow)
    queue.publish_nowait(0)
    await asyncio.sleep(0)  # the dispatcher takes 0 and waits in `slow`
    for i in range(1, 5):
        queue.publish_nowait(i)
    gate.set()
    await queue.aclose()
    assert got == [0, 3, 4]
    assert queue.statistics().dropped == 2


async def test_pull_and_push_do_not_mix() -> None:
    queue: comm.MessageQueue[int] = comm.MessageQueue(max_size=5)
    listener = queue.subscribe(lambda m: None)
    with pytest.raises(ContextError):
        await queue.get()
    queue.unsubscribe(listener)
    with pytest.raises(ConfigurationError):
        queue.unsubscribe(listener)
    queue.publish_nowait(7)
    assert await queue.get() == 7


def test_subscribe_needs_a_loop() -> None:
    queue: comm.MessageQueue[int] = comm.MessageQueue()
    with pytest.raises(ContextError):
        queue.subscribe(print)


async def test_close_then_drain_by_iteration() -> None:
    async with comm.MessageQueue[str](max_size=5) as queue:
        queue.publish_nowait("a")
        queue.publish_nowait("b")
        queue.close()
        with pytest.raises(comm.ChannelClosedError):
            queue.publish_nowait("c")
        assert [m async for m in queue] == ["a", "b"]


@pytest.mark.parametrize("kwargs", [{"max_size": 0}, {"overflow_policy": "drop_newest"}])
def test_bad_options(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        comm.MessageQueue(**kwargs)  # type: ignore[arg-type]
