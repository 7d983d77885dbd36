"""The message-passing patterns of the seed, on ``runtree.comm``.

Every participant (producer, consumer, publisher, subscriber, client, server, receiver) is a
runtree node called with ``rt.call``, so the message flow shows in the session's run tree.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from typing import Any

import runtree as rt
import runtree.comm as comm

# -- 1. producer / consumer ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ProducerConsumerReport:
    produced: tuple[int, ...]
    consumed: dict[str, tuple[int, ...]]
    queue: comm.MessageQueueStatistics
    overflow_dropped: tuple[int, ...]
    overflow: comm.MessageQueueStatistics

    @property
    def all_consumed(self) -> bool:
        got = sorted(item for items in self.consumed.values() for item in items)
        return got == sorted(self.produced)

    def lines(self) -> list[str]:
        return [
            f"produced {len(self.produced)} items through queue {self.queue.name!r} "
            f"(max_size={self.queue.max_size}, policy={self.queue.overflow_policy}, "
            f"high water {self.queue.high_water})",
            *(f"  {name} consumed {list(items)}" for name, items in self.consumed.items()),
            f"  all consumed: {self.all_consumed}; dropped {self.queue.dropped}",
            f"overflow demo: queue of 3 with drop_oldest got 5 items; dropped "
            f"{list(self.overflow_dropped)} (counted: {self.overflow.dropped})",
        ]


async def produce(queue: comm.MessageQueue[comm.CommMessage], count: int, consumers: int) -> int:
    """Publish ``count`` data messages, then one stop command per consumer."""
    for item in range(count):
        await queue.publish(comm.DataMessage(payload=item, source="producer"))
    for _ in range(consumers):
        await queue.publish(comm.ControlMessage(command="stop", source="producer"))
    return count


async def consume(queue: comm.MessageQueue[comm.CommMessage], name: str) -> list[int]:
    """Take data messages until a stop command arrives."""
    items: list[int] = []
    async for message in queue:
        if isinstance(message, comm.ControlMessage) and message.command == "stop":
            break
        assert isinstance(message, comm.DataMessage)
        items.append(message.payload)
        await asyncio.sleep(0)  # give the other consumer its turn
    return items


async def producer_consumer() -> ProducerConsumerReport:
    queue: comm.MessageQueue[comm.CommMessage] = comm.MessageQueue(
        max_size=4, overflow_policy="block", name="work"
    )
    produced, first, second = await asyncio.gather(
        rt.call(produce, queue, 10, 2),
        rt.call(consume, queue, "consumer-a"),
        rt.call(consume, queue, "consumer-b"),
    )
    queue.close()

    dropped: list[int] = []
    small: comm.MessageQueue[int] = comm.MessageQueue(
        max_size=3, overflow_policy="drop_oldest", name="small", on_drop=dropped.append
    )
    for item in range(5):
        small.publish_nowait(item)
    small.close()
    return ProducerConsumerReport(
        produced=tuple(range(produced)),
        consumed={"consumer-a": tuple(first), "consumer-b": tuple(second)},
        queue=queue.statistics(),
        overflow_dropped=tuple(dropped),
        overflow=small.statistics(),
    )


# -- 2. publish / subscribe ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PubSubReport:
    sent: tuple[Any, ...]
    received: dict[str, tuple[Any, ...]]
    errors: tuple[str, ...]
    bus: comm.EventBusStatistics

    @property
    def every_subscriber_got_every_event(self) -> bool:
        return all(got == self.sent for got in self.received.values())

    def lines(self) -> list[str]:
        return [
            f"published {len(self.sent)} 'data_update' events on bus {self.bus.name!r}",
            *(f"  {name} received {list(got)}" for name, got in self.received.items()),
            f"  every subscriber got every event: {self.every_subscriber_got_every_event}",
            *(f"  reported error: {error}" for error in self.errors),
        ]


async def handle_event(subscriber: str, data: Any) -> Any:
    """A subscriber's work on one event (a node, so each delivery is in the run tree)."""
    return data


async def publish_updates(bus: comm.EventBus, updates: list[Any]) -> int:
    for update in updates:
        await bus.emit("data_update", update, source="publisher")
    return len(updates)


async def pubsub() -> PubSubReport:
    bus = comm.EventBus(name="updates", source="publisher")
    received: dict[str, list[Any]] = {"subscriber-a": [], "subscriber-b": [], "subscriber-c": []}
    errors: list[str] = []

    async def subscriber_a(event: comm.EventMessage) -> None:
        received["subscriber-a"].append(await rt.call(handle_event, "subscriber-a", event.data))

    def subscriber_b(event: comm.EventMessage) -> None:  # a sync handler
        received["subscriber-b"].append(event.data)

    async def subscriber_c(event: comm.EventMessage) -> None:  # wildcard: every event type
        if event.event_name == "data_update":
            received["subscriber-c"].append(await rt.call(handle_event, "subscriber-c", event.data))

    def flaky(event: comm.EventMessage) -> None:  # fails once; the others still get it
        if event.data == {"version": 2}:
            raise RuntimeError("flaky subscriber choked on version 2")

    def on_error(event: comm.EventMessage) -> None:
        report: comm.ErrorMessage = event.data
        errors.append(f"{report.source}: {report.message}")

    bus.on("data_update", subscriber_a, name="subscriber-a")
    bus.on("data_update", subscriber_b, name="subscriber-b")
    bus.on("*", subscriber_c, name="subscriber-c")
    bus.on("data_update", flaky, name="flaky-subscriber")
    bus.on(comm.ERROR_EVENT, on_error, name="error-reporter")
    updates = [{"version": 1}, {"version": 2}, {"version": 3}]
    await rt.call(publish_updates, bus, updates)
    await bus.aclose()
    return PubSubReport(
        sent=tuple(updates),
        received={name: tuple(got) for name, got in received.items()},
        errors=tuple(errors),
        bus=bus.statistics(),
    )


# -- 3. request / response -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RequestResponseReport:
    outcomes: dict[str, tuple[str, Any]]
    exchange: comm.ExchangeStatistics

    @property
    def every_request_settled(self) -> bool:
        return all(
            kind in ("answered", "failed", "timed_out") for kind, _ in self.outcomes.values()
        )

    def lines(self) -> list[str]:
        stats = self.exchange
        return [
            *(
                f"request {query!r}: {kind} {value!r}"
                for query, (kind, value) in self.outcomes.items()
            ),
            f"  answered {stats.answered}, failed {stats.failed}, timed out {stats.timeouts}, "
            f"late responses {stats.late}; every request settled: {self.every_request_settled}",
        ]


async def answer(query: str) -> str:
    """The server's work for one request (a node)."""
    if query == "bad":
        raise ValueError(f"cannot process {query!r}")
    return query.upper()


async def server(exchange: comm.Exchange[str, str], release: asyncio.Event) -> None:
    async def handler(query: str) -> str:
        if query == "slow":
            await release.wait()  # answers only after the client gave up
            return "too late"
        return await rt.call(answer, query)

    await exchange.serve(handler, concurrency=2)


async def client(
    exchange: comm.Exchange[str, str], queries: list[str], release: asyncio.Event
) -> dict[str, tuple[str, Any]]:
    outcomes: dict[str, tuple[str, Any]] = {}
    for query in queries:
        try:
            outcomes[query] = ("answered", await exchange.request(query, source="client"))
        except comm.RequestTimeoutError as exc:
            outcomes[query] = ("timed_out", f"no response within {exc.timeout}s")
        except comm.RequestFailedError as exc:
            outcomes[query] = ("failed", exc.error.message)
    release.set()
    return outcomes


async def request_response() -> RequestResponseReport:
    exchange: comm.Exchange[str, str] = comm.Exchange("rpc", timeout=0.05)
    release = asyncio.Event()
    serving = asyncio.ensure_future(rt.call(server, exchange, release))
    outcomes = await rt.call(client, exchange, ["hello", "world", "bad", "slow"], release)
    exchange.close()
    await serving
    return RequestResponseReport(outcomes=outcomes, exchange=exchange.statistics())


# -- 4. reliable delivery --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReliableReport:
    receipts: dict[str, tuple[str, int]]
    dead_letters: tuple[tuple[str, str, int], ...]
    waits: tuple[float, ...]
    deliveries: dict[str, int]
    sender: comm.ReliableSenderStatistics

    def lines(self) -> list[str]:
        return [
            *(
                f"message {name!r}: {status} after {attempts} attempt(s)"
                for name, (status, attempts) in self.receipts.items()
            ),
            *(
                f"  dead letter {name!r} after {attempts} attempts: {reason}"
                for name, reason, attempts in self.dead_letters
            ),
            f"  backoff waits between attempts: {list(self.waits)}",
        ]


async def receive(payload: dict[str, Any], attempt: int) -> bool:
    """The receiving node: acknowledges by returning, fails by raising."""
    behaviour = payload["behaviour"]
    if behaviour == "poison" or (behaviour == "flaky" and attempt == 1):
        raise ConnectionError(f"receiver dropped {payload['name']!r} (attempt {attempt})")
    return True


async def reliable() -> ReliableReport:
    deliveries: Counter[str] = Counter()
    waits: list[float] = []

    async def deliver(message: comm.CommMessage) -> bool:
        assert isinstance(message, comm.DataMessage)
        deliveries[message.payload["name"]] += 1
        return await rt.call(receive, message.payload, deliveries[message.payload["name"]])

    async def no_wait(seconds: float) -> None:  # record the backoff instead of sleeping
        waits.append(seconds)

    policy = comm.RetryPolicy(max_attempts=3, backoff="exponential", base_delay=0.5)
    sender: comm.ReliableSender[dict[str, Any]] = comm.ReliableSender(
        deliver, retry=policy, name="reliable", source="sender", sleep=no_wait
    )
    receipts: dict[str, tuple[str, int]] = {}
    async with sender:
        for name, behaviour in (("order-1", "ok"), ("order-2", "flaky"), ("order-3", "poison")):
            try:
                receipt = await sender.send({"name": name, "behaviour": behaviour})
            except comm.DeliveryFailedError as exc:
                receipts[name] = ("dead", exc.dead_letter.attempts)
            else:
                receipts[name] = (receipt.status, receipt.attempts)
    letters = tuple(
        (letter.message.payload["name"], letter.reason, letter.attempts)  # type: ignore[attr-defined]
        for letter in sender.dead_letters
    )
    return ReliableReport(
        receipts=receipts,
        dead_letters=letters,
        waits=tuple(waits),
        deliveries=dict(deliveries),
        sender=sender.statistics(),
    )
