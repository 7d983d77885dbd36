"""Throughput of the ``runtree.comm`` primitives next to bare asyncio, in the same process.

C1  ``Channel(buffer_size=1000)`` producer/consumer vs ``asyncio.Queue(maxsize=1000)``
C2  ``MessageQueue(max_size=1000, overflow_policy="block")`` + ``get`` vs the same queue
C3  ``EventBus.emit`` to one async handler vs a bare loop awaiting that handler

Each pair moves the same number of items through the same loop shape (producer task puts N
items then a ``None`` sentinel; consumer task takes until the sentinel), so the ratio isolates
the primitive's own cost. Figures are best-of-N CPU time (``fastest``), in messages per second.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import runtree.comm as comm
from bench.workloads import fastest

ITEMS = 100_000
BUFFER = 1000
REPEATS = 5


# -- producer/consumer pairs ------------------------------------------------------------------


async def bare_queue(items: int = ITEMS) -> None:
    queue: asyncio.Queue[int | None] = asyncio.Queue(maxsize=BUFFER)

    async def producer() -> None:
        for i in range(items):
            await queue.put(i)
        await queue.put(None)

    async def consumer() -> None:
        while await queue.get() is not None:
            pass

    await asyncio.gather(producer(), consumer())


async def channel(items: int = ITEMS) -> None:
    chan: comm.Channel[int | None] = comm.Channel("bench", buffer_size=BUFFER)

    async def producer() -> None:
        for i in range(items):
            await chan.send(i)
        await chan.send(None)

    async def consumer() -> None:
        while await chan.receive() is not None:
            pass

    await asyncio.gather(producer(), consumer())


async def message_queue(items: int = ITEMS) -> None:
    queue: comm.MessageQueue[int | None] = comm.MessageQueue(
        max_size=BUFFER, overflow_policy="block", name="bench"
    )

    async def producer() -> None:
        for i in range(items):
            await queue.publish(i)
        await queue.publish(None)

    async def consumer() -> None:
        while await queue.get() is not None:
            pass

    await asyncio.gather(producer(), consumer())


# -- event bus ----------------------------------------------------------------------------------


class _Counter:
    """The handler both sides await: one attribute increment per event."""

    def __init__(self) -> None:
        self.seen = 0

    async def handle(self, event: object) -> None:
        self.seen += 1


async def bare_handler_loop(items: int = ITEMS) -> None:
    counter = _Counter()
    handle = counter.handle
    for i in range(items):
        await handle(i)
    assert counter.seen == items


async def event_bus(items: int = ITEMS) -> None:
    counter = _Counter()
    bus = comm.EventBus(name="bench")
    bus.on("tick", counter.handle)
    emit = bus.emit
    for i in range(items):
        await emit("tick", i)
    assert counter.seen == items


# -- suite --------------------------------------------------------------------------------------


def _rate(seconds: float, items: int) -> float:
    return items / seconds if seconds > 0 else float("inf")


def run(
    items: int = ITEMS, repeats: int = REPEATS
) -> tuple[list[tuple[str, float, str]], dict[str, object]]:
    """Measure every pair; return table rows and a ``{"comm": {...}}`` details dict.

    The rounds are interleaved (one run of every workload per round, best time kept per
    workload) so a change of load on the machine hits the runtree and the bare side alike.
    """
    workloads = {
        "asyncio.Queue": bare_queue,
        "Channel": channel,
        "MessageQueue": message_queue,
        "bare await": bare_handler_loop,
        "EventBus emit": event_bus,
    }
    best = fastest(repeats, {label: functools.partial(w, items) for label, w in workloads.items()})
    rate = {label: _rate(seconds, items) for label, seconds in best.items()}

    rows: list[tuple[str, float, str]] = []
    details: dict[str, Any] = {"items": items, "repeats": repeats}
    for label in ("asyncio.Queue", "bare await"):
        rows.append((f"{label} throughput", rate[label], "msg/s"))
        details[label] = {"msgs_per_s": rate[label], "us_per_msg": 1e6 / rate[label]}
    for label, bare_label in (
        ("Channel", "asyncio.Queue"),
        ("MessageQueue", "asyncio.Queue"),
        ("EventBus emit", "bare await"),
    ):
        ratio = rate[label] / rate[bare_label]
        rows.append((f"{label} throughput", rate[label], "msg/s"))
        rows.append((f"{label} vs {bare_label}", ratio, "x"))
        details[label] = {
            "msgs_per_s": rate[label],
            "us_per_msg": 1e6 / rate[label],
            "bare": bare_label,
            "ratio": ratio,
        }
    return rows, {"comm": details}
