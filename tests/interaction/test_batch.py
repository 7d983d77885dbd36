from __future__ import annotations

import asyncio

import pytest

import runtree as rt
from tests.support import Adder, Boom, FailOn


class Gate(rt.Node[int]):
    """Counts how many run at once; waits for `release` before finishing."""

    running = 0
    peak = 0
    release: asyncio.Event | None = None
    cancelled = 0

    def __init__(self, x: int):
        super().__init__()
        self.x = x

    async def invoke(self) -> int:
        cls = type(self)
        cls.running += 1
        cls.peak = max(cls.peak, cls.running)
        try:
            if self.x < 0:
                await asyncio.sleep(0)
                raise Boom("negative")
            assert cls.release is not None
            await cls.release.wait()
            return self.x
        except asyncio.CancelledError:
            cls.cancelled += 1
            raise
        finally:
            cls.running -= 1


@pytest.fixture
def gate() -> type[Gate]:
    Gate.running = Gate.peak = Gate.cancelled = 0
    Gate.release = asyncio.Event()
    return Gate


async def test_max_concurrency_bound_holds(gate: type[Gate]) -> None:
    async def release_when_saturated() -> None:
        while gate.running < 3:
            await asyncio.sleep(0)
        gate.release.set()  # type: ignore[union-attr]

    releaser = asyncio.create_task(release_when_saturated())
    async with rt.Session():
        results = await rt.call_batch(gate, range(20), max_concurrency=3)
    await releaser
    assert results == list(range(20))
    assert gate.peak == 3


async def test_failure_cancels_siblings_and_waits_for_them(gate: type[Gate]) -> None:
    async with rt.Session() as session:
        with pytest.raises(Boom, match="negative"):
            await rt.call_batch(gate, [1, 2, -1, 3])
        assert gate.running == 0  # nothing orphaned: every sibling finished cancelling
    assert gate.cancelled == 3
    statuses = sorted(r.status for r in session.info.requests.values())
    assert statuses == ["cancelled", "cancelled", "cancelled", "failed"]


async def test_failure_with_max_concurrency_stops_the_rest(gate: type[Gate]) -> None:
    async with rt.Session() as session:
        with pytest.raises(Boom):
            await rt.call_batch(gate, [-1, 1, 2, 3, 4, 5], max_concurrency=2)
    assert gate.running == 0
    assert len(session.info) <= 3  # the queue stopped: items 2.. never started


async def test_outer_cancellation_cancels_the_batch(gate: type[Gate]) -> None:
    async with rt.Session():
        batch = asyncio.create_task(rt.call_batch(gate, range(5)))
        while gate.running < 5:
            await asyncio.sleep(0)
        batch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await batch
    assert gate.running == 0 and gate.cancelled == 5


async def test_batch_arguments_are_checked() -> None:
    with pytest.raises(rt.NodeInvocationError, match="different lengths"):
        await rt.call_batch(Adder, [1, 2], [1])
    with pytest.raises(rt.NodeInvocationError, match="at least one iterable"):
        await rt.call_batch(Adder)
    with pytest.raises(rt.ConfigurationError, match="max_concurrency"):
        await rt.call_batch(Adder, [1], [1], max_concurrency=0)
    assert await rt.call_batch(Adder, [], []) == []


async def test_batch_records_parent_inside_a_node() -> None:
    class Fan(rt.Node[list[int]]):
        def __init__(self, n: int):
            super().__init__()
            self.n = n

        async def invoke(self) -> list[int]:
            return await rt.call_batch(FailOn, range(self.n), [-1] * self.n)

    async with rt.Session() as session:
        assert await rt.call(Fan, 4) == [0, 1, 2, 3]
    root = session.info.root_requests()[0]
    assert len(session.info.children(root.request_id)) == 4


async def _add3(a: int, b: int = 0, c: int = 0) -> int:
    return a + b + c


async def test_constant_keyword_arguments_reach_every_call() -> None:
    async with rt.Session(store=None) as run:
        assert await rt.call_batch(_add3, [1, 2, 3], c=10) == [11, 12, 13]
    assert [r.kwargs for r in run.info.root_requests()] == [{"c": 10}] * 3


async def test_endless_iterables_are_cut_to_the_others_length() -> None:
    import itertools

    async with rt.Session(store=None):
        assert await rt.call_batch(_add3, [1, 2], itertools.repeat(5)) == [6, 7]
        assert await rt.call_batch(_add3, (i for i in range(3)), itertools.count(10)) == [
            10,
            12,
            14,
        ]
        with pytest.raises(rt.NodeInvocationError, match="ran out after 1 items"):
            await rt.call_batch(_add3, [1, 2], (i for i in range(1)))


async def test_partial_functions_are_nodes_named_after_their_function() -> None:
    import functools

    async with rt.Session(store=None) as run:
        assert await rt.call_batch(functools.partial(_add3, b=100), [1, 2]) == [101, 102]
        assert await rt.call(functools.partial(_add3, 1, 2), c=3) == 6
    assert {r.node_name for r in run.info.root_requests()} == {"_add3"}
