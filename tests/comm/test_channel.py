from __future__ import annotations

import asyncio

import pytest

import runtree.comm as comm
from runtree.errors import ConfigurationError


async def test_producer_consumer_consumes_every_item() -> None:
    channel: comm.Channel[int] = comm.Channel("data", buffer_size=4)
    received: list[int] = []

    async def producer() -> None:
        for i in range(100):
            await channel.send(i)
        channel.close()

    async def consumer() -> None:
        async for item in channel:
            received.append(item)

    await asyncio.gather(producer(), consumer())
    assert received == list(range(100))
    stats = channel.statistics()
    assert (stats.sent, stats.received, stats.depth, stats.closed) == (100, 100, 0, True)
    assert stats.high_water <= 4
    assert stats.buffer_size == 4


async def test_several_consumers_share_the_items() -> None:
    channel: comm.Channel[int] = comm.Channel("work", buffer_size=2)
    seen: list[list[int]] = [[], [], []]

    async def worker(i: int) -> None:
        async for item in channel:
            seen[i].append(item)

    workers = [asyncio.ensure_future(worker(i)) for i in range(3)]
    for i in range(60):
        await channel.send(i)
    channel.close()
    await asyncio.gather(*workers)
    assert sorted(x for s in seen for x in s) == list(range(60))


async def test_close_semantics() -> None:
    channel: comm.Channel[str] = comm.Channel("c", buffer_size=3)
    channel.send_nowait("a")
    channel.send_nowait("b")
    channel.close()
    channel.close()  # idempotent
    assert channel.state == "closed"
    with pytest.raises(comm.ChannelClosedError) as info:
        await channel.send("c")
    assert info.value.name == "c"
    assert isinstance(info.value, RuntimeError)
    with pytest.raises(comm.ChannelClosedError):
        channel.send_nowait("c")
    assert await channel.receive() == "a"
    assert channel.receive_nowait() == "b"
    with pytest.raises(comm.ChannelClosedError):
        await channel.receive()
    with pytest.raises(comm.ChannelClosedError):
        channel.receive_nowait()
    assert [x async for x in channel] == []


async def test_close_wakes_waiting_receivers_and_senders() -> None:
    empty: comm.Channel[int] = comm.Channel("empty")
    receiver = asyncio.ensure_future(empty.receive())
    full: comm.Channel[int] = comm.Channel("full", buffer_size=1)
    full.send_nowait(1)
    sender = asyncio.ensure_future(full.send(2))
    await asyncio.sleep(0)
    assert empty.statistics().waiting_receivers == 1
    assert full.statistics().waiting_senders == 1
    empty.close()
    full.close()
    with pytest.raises(comm.ChannelClosedError):
        await receiver
    with pytest.raises(comm.ChannelClosedError):
        await sender
    assert full.receive_nowait() == 1  # the buffered item is still drained
    assert empty.statistics().waiting_receivers == 0


async def test_timeouts_raise_a_timeout_error() -> None:
    channel: comm.Channel[int] = comm.Channel("t", buffer_size=1)
    with pytest.raises(comm.ChannelTimeoutError) as info:
        await channel.receive(timeout=0.01)
    assert isinstance(info.value, TimeoutError)
    assert info.value.operation == "receive"
    channel.send_nowait(1)
    with pytest.raises(TimeoutError):
        await channel.send(2, timeout=0)
    stats = channel.statistics()
    assert stats.timeouts == 2
    assert stats.waiting_senders == stats.waiting_receivers == 0
    assert len(channel._getters) == len(channel._putters) == 0
    # the channel still works after timeouts
    assert await channel.receive(timeout=0) == 1


async def test_default_timeout_comes_from_the_channel() -> None:
    channel: comm.Channel[int] = comm.Channel("t", timeout=0.01)
    with pytest.raises(comm.ChannelTimeoutError):
        await channel.receive()
    channel.send_nowait(5)
    assert await channel.receive(timeout=None) == 5


async def test_nowait_variants() -> None:
    channel: comm.Channel[int] = comm.Channel("n", buffer_size=1)
    with pytest.raises(comm.QueueEmptyError):
        channel.receive_nowait()
    channel.send_nowait(1)
    with pytest.raises(comm.QueueFullError) as info:
        channel.send_nowait(2)
    assert info.value.max_size == 1
    assert channel.full() and not channel.empty() and len(channel) == 1


async def test_type_check() -> None:
    channel = comm.Channel("ints", type_=int)
    await channel.send(1)
    with pytest.raises(comm.ChannelTypeError) as info:
        await channel.send("one")  # type: ignore[arg-type]
    assert isinstance(info.value, TypeError)
    assert (info.value.expected, info.value.actual) == ("int", "str")
    either = comm.Channel("either", type_=(int, str))
    either.send_nowait("ok")
    assert channel.statistics().rejected == 1


async def test_a_cancelled_receiver_passes_its_wakeup_on() -> None:
    channel: comm.Channel[int] = comm.Channel("c")
    first = asyncio.ensure_future(channel.receive())
    second = asyncio.ensure_future(channel.receive())
    await asyncio.sleep(0)
    channel.send_nowait(1)  # wakes `first`...
    first.cancel()  # ...which is cancelled before it runs
    assert await second == 1
    assert first.cancelled()


async def test_a_blocked_sender_proceeds_when_room_appears() -> None:
    channel: comm.Channel[int] = comm.Channel("c", buffer_size=1)
    await channel.send(1)
    sender = asyncio.ensure_future(channel.send(2))
    await asyncio.sleep(0)
    assert not sender.done()
    assert await channel.receive() == 1
    await sender
    assert await channel.receive() == 2


@pytest.mark.parametrize(
    "kwargs", [{"buffer_size": 0}, {"buffer_size": True}, {"timeout": -1}, {"type_": 3}]
)
def test_bad_options(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        comm.Channel("x", **kwargs)  # type: ignore[arg-type]


async def test_context_managers_close() -> None:
    async with comm.Channel[int]("a") as a:
        a.send_nowait(1)
    assert a.closed
    with comm.Channel[int]("b") as b:
        pass
    assert b.closed
    assert "closed" in repr(b)
