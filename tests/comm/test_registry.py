from __future__ import annotations

import asyncio
import gc
import pickle

import pytest

import runtree.comm as comm
from runtree.pubsub.messages import Message
from runtree.pubsub.publisher import RTPublisher, current_publisher


async def test_registry_collects_every_statistics() -> None:
    registry = comm.CommRegistry()
    channel: comm.Channel[int] = comm.Channel("c", registry=registry)
    queue: comm.MessageQueue[int] = comm.MessageQueue(name="q", registry=registry)
    bus = comm.EventBus(name="bus", registry=registry)
    exchange: comm.Exchange[int, int] = comm.Exchange("x", registry=registry)
    sender: comm.ReliableSender[int] = comm.ReliableSender(
        lambda m: None, name="s", registry=registry
    )
    channel.send_nowait(1)
    queue.publish_nowait(2)
    stats = registry.statistics()
    assert list(stats) == ["bus", "c", "q", "s", "x"]
    assert stats["c"].depth == 1 and stats["q"].depth == 1
    assert len(registry) == 5 and channel in registry
    registry.unregister(channel)
    assert channel not in registry
    assert bus and exchange and sender  # keep them alive until here


def test_registry_holds_objects_weakly_and_names_uniquely() -> None:
    registry = comm.CommRegistry()
    a: comm.Channel[int] = comm.Channel("same", registry=registry)
    b: comm.Channel[int] = comm.Channel("same", registry=registry)
    assert len(registry.statistics()) == 2
    del a, b
    gc.collect()
    assert len(registry) == 0


def test_current_registry_is_used_when_none_is_passed() -> None:
    registry = comm.CommRegistry()
    token = comm.current_registry.set(registry)
    try:
        channel: comm.Channel[int] = comm.Channel("auto")
    finally:
        comm.current_registry.reset(token)
    assert channel in registry
    assert channel not in comm.CommRegistry()


def test_inner_channels_do_not_register() -> None:
    registry = comm.CommRegistry()
    token = comm.current_registry.set(registry)
    try:
        queue: comm.MessageQueue[int] = comm.MessageQueue(name="q")
        exchange: comm.Exchange[int, int] = comm.Exchange("x")
    finally:
        comm.current_registry.reset(token)
    assert list(registry.statistics()) == ["q", "x"]
    assert queue is not None and exchange is not None


async def test_notable_events_reach_the_active_publisher() -> None:
    publisher = RTPublisher()
    seen: list[Message] = []
    publisher.subscribe(seen.append, topics=(comm.CommEvent, comm.CommStatistics))
    token = current_publisher.set(publisher)
    try:
        registry = comm.CommRegistry()
        queue: comm.MessageQueue[int] = comm.MessageQueue(max_size=1, name="q", registry=registry)
        queue.publish_nowait(1)
        queue.publish_nowait(2)  # drops 1
        channel: comm.Channel[int] = comm.Channel("c")
        channel.close()
        snapshot = registry.publish_statistics()
    finally:
        current_publisher.reset(token)
    await publisher.aclose()
    kinds = [(m.kind, m.name) for m in seen if isinstance(m, comm.CommEvent)]
    assert kinds == [("queue.dropped", "q"), ("channel.closed", "c")]
    assert seen[-1] is snapshot
    assert snapshot.objects["q"].dropped == 1
    assert "queue.dropped" in seen[0].log_message()


@pytest.mark.parametrize(
    "error",
    [
        comm.ChannelClosedError("closed", name="c"),
        comm.ChannelTimeoutError("late", name="c", operation="receive", timeout=1.0),
        comm.ChannelTypeError("type", name="c", expected="int", actual="str"),
        comm.QueueFullError("full", name="q", max_size=3),
        comm.QueueEmptyError("empty", name="q"),
        comm.MessageFormatError("bad", field="payload"),
        comm.RequestTimeoutError("late", name="x", correlation_id="abc", timeout=2.0),
        comm.RequestFailedError(
            "failed", correlation_id="abc", error=comm.ErrorMessage(error_code="E", message="m")
        ),
        comm.RoutingError("no route", router="r"),
        comm.CommunicationError("base"),
    ],
)
def test_every_error_pickles_with_its_fields(error: comm.CommunicationError) -> None:
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert str(again) == str(error)
    for name in type(error)._fields:
        assert getattr(again, name) == getattr(error, name)


def test_error_hierarchy_matches_the_builtins() -> None:
    from runtree.errors import RuntreeError

    assert issubclass(comm.ChannelClosedError, RuntreeError)
    assert issubclass(comm.ChannelTimeoutError, TimeoutError)
    assert issubclass(comm.RequestTimeoutError, TimeoutError)
    assert issubclass(comm.QueueFullError, RuntimeError)
    assert issubclass(comm.MessageFormatError, ValueError)
    assert issubclass(comm.ChannelTypeError, TypeError)
    assert issubclass(comm.RoutingError, LookupError)
    with pytest.raises(TypeError):
        comm.QueueFullError("x", nope=1)


def test_public_names() -> None:
    import inspect

    assert comm.__all__ == sorted(comm.__all__)
    for name in comm.__all__:
        value = getattr(comm, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__doc__, f"runtree.comm.{name} has no docstring"


async def test_statistics_are_frozen() -> None:
    stats = comm.Channel[int]("c").statistics()
    with pytest.raises(AttributeError):
        stats.sent = 3  # type: ignore[misc]
    await asyncio.sleep(0)
