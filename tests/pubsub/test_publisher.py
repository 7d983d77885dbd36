from __future__ import annotations

import asyncio
import threading

import pytest

import runtree as rt
from runtree.pubsub import (
    Message,
    RequestCreation,
    RequestFailure,
    RequestSuccess,
    RTPublisher,
    Streaming,
    stream_subscriber,
)
from tests.support import Adder


def _stream(i: int) -> Streaming:
    return Streaming(item=i, request_id=None)


async def test_failing_subscriber_is_isolated() -> None:
    publisher = RTPublisher()
    good: list[int] = []

    def bad(message: Message) -> None:
        raise RuntimeError("subscriber bug")

    async def also_bad(message: Message) -> None:
        raise RuntimeError("async subscriber bug")

    publisher.subscribe(bad, name="bad")
    publisher.subscribe(also_bad, name="also_bad")
    publisher.subscribe(stream_subscriber(good.append), name="good")
    for i in range(5):
        publisher.publish(_stream(i))
    await publisher.aclose()
    assert good == [0, 1, 2, 3, 4]
    stats = {s.name: s for s in publisher.statistics().subscribers}
    assert stats["bad"].failed == 5 and stats["also_bad"].failed == 5
    assert stats["good"].delivered == 5


async def test_slow_subscriber_drops_are_counted_and_run_continues() -> None:
    publisher = RTPublisher()
    gate = threading.Event()
    received: list[object] = []

    def slow(message: Message) -> None:
        gate.wait(5)
        received.append(message)

    publisher.subscribe(slow, name="slow", max_buffer=3)
    for i in range(10):
        publisher.publish(_stream(i))  # never blocks even though `slow` is stuck
    gate.set()
    await publisher.aclose()
    (stats,) = publisher.statistics().subscribers
    assert stats.delivered == len(received)
    assert stats.delivered + stats.dropped == 10 and stats.dropped >= 6


async def test_routing_by_type_and_subclass() -> None:
    publisher = RTPublisher()
    requests: list[object] = []
    everything: list[object] = []
    publisher.subscribe(requests.append, topics=(RequestCreation, RequestSuccess))
    publisher.subscribe(everything.append)
    assert publisher.wants(Streaming) and publisher.wants(RequestSuccess)
    publisher.publish(_stream(1))
    publisher.publish(
        RequestSuccess(request_id="r", node_name="n", start_time=0.0, end_time=1.0, result=1)
    )
    await publisher.aclose()
    assert [type(m).__name__ for m in requests] == ["RequestSuccess"]
    assert len(everything) == 2


async def test_nobody_listening_costs_nothing() -> None:
    publisher = RTPublisher()
    assert not publisher.listening
    assert not publisher.wants(Streaming)
    publisher.publish(_stream(1))
    assert publisher.statistics().published == 1
    subscription = publisher.subscribe(print, topics=RequestSuccess)
    assert publisher.listening
    assert not publisher.wants(Streaming)
    publisher.unsubscribe(subscription)
    assert not publisher.listening
    await publisher.aclose()


async def test_closed_publisher() -> None:
    publisher = RTPublisher()
    await publisher.aclose()
    publisher.publish(_stream(1))
    assert publisher.statistics().dropped_after_close == 1
    with pytest.raises(rt.SessionStateError, match="closed publisher"):
        publisher.subscribe(print)
    with pytest.raises(rt.ConfigurationError, match="Message subclasses"):
        RTPublisher().subscribe(print, topics=int)  # type: ignore[arg-type]
    with pytest.raises(rt.ConfigurationError, match="max_buffer"):
        RTPublisher(max_buffer=0)


async def test_publish_from_other_threads_reaches_async_subscriber() -> None:
    publisher = RTPublisher()
    got: list[int] = []

    async def collect(message: Streaming) -> None:
        got.append(message.item)

    publisher.subscribe(collect)
    publisher.publish(_stream(0))  # binds the subscriber to this loop
    threads = [threading.Thread(target=publisher.publish, args=(_stream(i),)) for i in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    await asyncio.sleep(0)
    await publisher.aclose()
    assert sorted(got) == [0, 1, 2]


async def test_session_lifecycle_messages_in_order() -> None:
    seen: list[str] = []

    async def log(message: Message) -> None:
        seen.append(message.topic)

    async with rt.Session() as session:
        session.publisher.subscribe(log)
        await rt.call(Adder, 1, 2)
    assert seen == ["request.created", "node.started", "node.finished", "request.succeeded"]


def test_log_messages() -> None:
    creation = RequestCreation(
        request_id="r1", parent_id="r0", node_name="N", args=(), kwargs={}, mode="async"
    )
    assert creation.log_message() == "N [r1] created under r0 (async)"
    success = RequestSuccess(
        request_id="r1", node_name="N", start_time=1.0, end_time=1.5, result="x" * 500
    )
    assert "DONE in 500.00 ms" in success.log_message() and len(success.log_message()) < 200


async def test_an_async_subscriber_runs_on_the_loop_that_opened_the_session() -> None:
    """Whoever publishes (the session loop, a thread-mode node), an async subscriber runs on
    the caller's loop, so it can use that loop's objects (a queue, a websocket)."""
    loops: list[asyncio.AbstractEventLoop] = []
    items: asyncio.Queue[object] = asyncio.Queue()

    async def record(message: Message) -> None:
        loops.append(asyncio.get_running_loop())
        await items.put(message)  # an object of the caller's loop

    async with rt.Session(execution_mode="thread", store=None) as session:
        session.publisher.subscribe(record, topics=Streaming)
        from tests.support import Streamer

        await rt.call(Streamer, 2)
        await rt.broadcast("from the session loop")
        for _ in range(3):
            await items.get()  # delivered while the run goes on
    assert loops == [asyncio.get_running_loop()] * 3


async def test_without_a_home_loop_an_async_subscriber_uses_its_own_thread() -> None:
    threads: list[int] = []

    async def record(message: Message) -> None:
        asyncio.get_running_loop()  # it has a loop to await on
        threads.append(threading.get_ident())

    publisher = RTPublisher()  # not a session's: no home loop
    publisher.subscribe(record)
    for i in range(3):
        publisher.publish(_stream(i))
    await publisher.aclose()
    assert len(threads) == 3 and len(set(threads)) == 1
    assert threads[0] != threading.get_ident()


async def test_a_blocking_sync_broadcast_callback_does_not_stall_the_run() -> None:
    """The callback blocks until the run has finished its calls: if it ran on the session's
    loop, the calls could never finish. (Blocking work belongs in a sync callback; an async
    one runs on your loop, like any coroutine.)"""
    run_done = threading.Event()
    got: list[str] = []

    def blocking_callback(item: str) -> None:
        run_done.wait(30)  # blocks its thread, as time.sleep would
        got.append(item)

    async with rt.Session(broadcast_callback=blocking_callback, store=None):
        await rt.broadcast("first")
        assert await rt.call_batch(Adder, range(50), range(50)) == [2 * i for i in range(50)]
        run_done.set()
        await rt.broadcast("second")
    assert got == ["first", "second"]


async def test_a_sync_session_inside_async_code_awaits_async_callbacks_before_it_ends() -> None:
    got: list[tuple[object, bool]] = []
    caller = asyncio.get_running_loop()

    async def collect(item: object) -> None:
        got.append((item, asyncio.get_running_loop() is caller))

    with rt.Session(broadcast_callback=collect, store=None):
        await rt.broadcast("a")
        await rt.broadcast("b")
    assert got == [("a", False), ("b", False)]  # on the subscriber's own loop, all delivered


class AsyncCallable:
    def __init__(self) -> None:
        self.items: list[object] = []

    async def __call__(self, item: object) -> None:
        await asyncio.sleep(0)
        self.items.append(item)


async def test_object_with_async_call_as_broadcast_callback_receives_items() -> None:
    callback = AsyncCallable()
    async with rt.Session(broadcast_callback=callback, store=None) as session:
        for i in range(5):
            await rt.broadcast(i)
    assert callback.items == [0, 1, 2, 3, 4]
    (sub,) = [s for s in session.statistics().publisher.subscribers if s.name != "journal"]
    assert (sub.delivered, sub.failed, sub.dropped) == (5, 0, 0)


async def test_callbacks_returning_awaitables_and_partials_are_awaited() -> None:
    import functools

    seen: list[tuple[str, object]] = []

    async def tagged(tag: str, item: object) -> None:
        seen.append((tag, item))

    publisher = RTPublisher()
    publisher.subscribe(stream_subscriber(functools.partial(tagged, "partial")))
    publisher.subscribe(stream_subscriber(lambda item: tagged("lambda", item)))
    for i in range(3):
        publisher.publish(_stream(i))
    await publisher.aclose()
    assert sorted(seen, key=str) == sorted(
        [(tag, i) for tag in ("partial", "lambda") for i in range(3)], key=str
    )
    assert [s.delivered for s in publisher.statistics().subscribers] == [3, 3]


async def test_blocked_async_subscriber_keeps_order_and_counts_drops() -> None:
    publisher = RTPublisher()
    gate = threading.Event()
    got: list[int] = []

    async def slow(message: Streaming) -> None:
        gate.wait(10)
        got.append(message.item)

    publisher.subscribe(slow, name="slow", max_buffer=3)
    for i in range(10):
        publisher.publish(_stream(i))  # never blocks although `slow` is stuck
    gate.set()
    await publisher.aclose()
    (stats,) = publisher.statistics().subscribers
    assert got == sorted(got) and stats.delivered == len(got)
    assert stats.delivered + stats.dropped == 10 and stats.dropped >= 6


def test_sync_close_delivers_to_thread_subscribers() -> None:
    publisher = RTPublisher()
    got: list[int] = []
    publisher.subscribe(stream_subscriber(got.append))
    for i in range(3):
        publisher.publish(_stream(i))
    publisher.close()
    assert got == [0, 1, 2]
    assert publisher.closed
    publisher.close()  # closing twice is harmless


class Reporting(rt.Node[int]):
    """Reports attributes about itself (contract 1), then returns or raises."""

    def __init__(self, fail: bool) -> None:
        super().__init__()
        self.fail = fail

    async def invoke(self) -> int:
        self.details["attributes"] = {"gen_ai.usage.input_tokens": 7, "runtree.kind": "llm"}
        if self.fail:
            raise LookupError("nothing found")
        return 1


async def test_request_end_messages_carry_the_request_attributes() -> None:
    ended: list[RequestSuccess | RequestFailure] = []
    async with rt.Session(store=None) as session:
        session.publisher.subscribe(ended.append, topics=(RequestSuccess, RequestFailure))
        await rt.call(Reporting, False)
        with pytest.raises(LookupError):
            await rt.call(Reporting, True)
        await rt.call(Adder, 1, 2)  # reports nothing
    expected = {"gen_ai.usage.input_tokens": 7, "runtree.kind": "llm"}
    assert [(type(m).__name__, m.attributes) for m in ended] == [
        ("RequestSuccess", expected),
        ("RequestFailure", expected),
        ("RequestSuccess", None),
    ]


async def test_a_plain_job_has_no_attributes() -> None:
    from runtree.execution.coordinator import Coordinator
    from runtree.execution.task import Task

    coordinator = Coordinator()
    publisher = RTPublisher()
    coordinator.start(publisher)
    response = await coordinator.submit(Task(request_id="j1", node=Adder(1, 2)))
    failure = await coordinator.submit(Task(request_id="j2", node=Reporting(True)))
    await publisher.aclose()
    assert isinstance(response, RequestSuccess) and response.attributes is None
    assert isinstance(failure, RequestFailure) and failure.attributes is None


async def test_subscribe_takes_the_name_second_and_unsubscribe_takes_it_too() -> None:
    publisher = RTPublisher()
    seen: list[object] = []
    sub = publisher.subscribe(stream_subscriber(seen.append), "printer")
    assert sub.name == "printer"
    publisher.publish(_stream(1))
    publisher.unsubscribe("printer")
    publisher.publish(_stream(2))
    await publisher.aclose()
    sub._join(5.0)  # what it had buffered is still delivered
    assert seen == [1] and sub.statistics().delivered == 1
    assert publisher.statistics().subscribers == ()


async def test_unsubscribe_by_name_needs_exactly_one_subscriber_of_that_name() -> None:
    publisher = RTPublisher()

    def callback(message: Message) -> None:
        return None

    publisher.subscribe(callback, "twin")
    publisher.subscribe(callback, "twin")
    with pytest.raises(rt.ConfigurationError, match="2 subscribers are named 'twin'"):
        publisher.unsubscribe("twin")
    with pytest.raises(rt.ConfigurationError, match="no subscriber named 'other'.*'twin'"):
        publisher.unsubscribe("other")
    with pytest.raises(rt.ConfigurationError, match="name must be a string.*topics="):
        publisher.subscribe(callback, Streaming)  # type: ignore[arg-type]
    await publisher.aclose()
