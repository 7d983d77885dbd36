"""Batch and parallel batch nodes: order, bounds, failures, per-item state and retries."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import runtree as rt
import runtree.graph as rg

from .helpers import SleepRecorder, tree


class Boom(ValueError):
    pass


class Square(rg.BatchNode[int, int]):
    def prep(self, shared: Any) -> list[int]:
        return shared["numbers"]

    def exec(self, item: int) -> int:
        return item * item

    def post(self, shared: Any, prep_res: Any, exec_res: list[int]) -> None:
        shared["squares"] = exec_res


async def test_batch_runs_every_item_in_order() -> None:
    async with rt.Session() as session:
        result = await rg.Graph(Square()).run({"numbers": [1, 2, 3]})
    assert result.shared["squares"] == [1, 4, 9]
    assert result.result == [1, 4, 9]
    assert [n for _, n, _ in tree(session)] == [
        "Graph",
        "Square",
        "Square.exec",
        "Square.exec",
        "Square.exec",
    ]
    labels = [repr(r.args[0]) for _, r in session.info.walk() if r.node_name == "Square.exec"]
    assert labels == [f"Square.exec[{i}] attempt 1/1" for i in range(3)]


async def test_batch_items_run_one_after_the_other() -> None:
    running = 0
    peak = 0

    class Seq(rg.BatchNode[int, int]):
        def prep(self, shared: Any) -> range:
            return range(4)

        async def exec(self, item: int) -> int:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0)
            running -= 1
            return item

    result = await rg.Graph(Seq()).run()
    assert result.result == [0, 1, 2, 3]
    assert peak == 1


async def test_empty_batch_and_bad_prep() -> None:
    assert (await rg.Graph(Square()).run({"numbers": []})).result == []

    with pytest.raises(rg.GraphDefinitionError, match="iterable of items"):
        await rg.Graph(Square()).run({"numbers": 5})


@pytest.mark.parametrize("limit", [1, 2, 3])
async def test_parallel_batch_respects_max_concurrency(limit: int) -> None:
    running = 0
    peak = 0

    class Busy(rg.ParallelBatchNode[int, int]):
        def prep(self, shared: Any) -> range:
            return range(7)

        async def exec(self, item: int) -> int:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            for _ in range(3):
                await asyncio.sleep(0)
            running -= 1
            return item * 10

    node = Busy(max_concurrency=limit)
    result = await rg.Graph(node).run()
    assert result.result == [0, 10, 20, 30, 40, 50, 60]
    assert peak == limit
    assert node.statistics().peak_concurrency == limit


async def test_parallel_batch_unbounded_runs_all_at_once() -> None:
    all_started = asyncio.Event()
    started = 0

    class Gate(rg.ParallelBatchNode[int, int]):
        def prep(self, shared: Any) -> range:
            return range(5)

        async def exec(self, item: int) -> int:
            nonlocal started
            started += 1
            if started == 5:
                all_started.set()
            await all_started.wait()  # deadlocks unless all five run together
            return item

    assert (await rg.Graph(Gate()).run()).result == [0, 1, 2, 3, 4]


async def test_failing_item_cancels_siblings_and_skips_the_rest() -> None:
    cancelled: list[int] = []
    ran: list[int] = []
    waiting = asyncio.Event()

    class Items(rg.ParallelBatchNode[int, int]):
        max_concurrency = 2

        def prep(self, shared: Any) -> range:
            return range(6)

        async def exec(self, item: int) -> int:
            ran.append(item)
            if item == 0:
                waiting.set()
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    cancelled.append(item)
                    raise
            await waiting.wait()
            raise Boom(f"item {item}")

    async with rt.Session() as session:
        with pytest.raises(Boom, match="item 1"):
            await rg.Graph(Items()).run()
    assert ran == [0, 1]
    assert cancelled == [0]
    statuses = [s for _, n, s in tree(session) if n == "Items.exec"]
    assert sorted(statuses) == ["cancelled", "failed"]


@pytest.mark.parametrize("node_class", [rg.BatchNode, rg.ParallelBatchNode])
async def test_return_exceptions_collects_item_errors(node_class: type[rg.BatchNode]) -> None:
    class Some(node_class):  # type: ignore[misc, valid-type]
        return_exceptions = True

        def prep(self, shared: Any) -> list[int]:
            return [1, 2, 3]

        async def exec(self, item: int) -> int:
            if item == 2:
                raise Boom("two")
            return item

        def post(self, shared: Any, prep_res: Any, exec_res: list[Any]) -> None:
            shared["results"] = exec_res

    async with rt.Session() as session:
        result = await rg.Graph(Some()).run()
    one, two, three = result.shared["results"]
    assert (one, three) == (1, 3)
    assert isinstance(two, Boom)
    step = next(r for _, r in session.info.walk() if r.node_name == "Some")
    assert rg.StepOutcome.from_record(step.output).errors == 1


@pytest.mark.parametrize("node_class", [rg.BatchNode, rg.ParallelBatchNode])
async def test_each_item_gets_its_own_node_state(node_class: type[rg.BatchNode]) -> None:
    class Stateful(node_class):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.history: list[int] = []
            self.current: int | None = None

        def prep(self, shared: Any) -> list[int]:
            return [1, 2, 3, 4]

        async def exec(self, item: int) -> tuple[int | None, list[int]]:
            assert self.current is None  # never set by another item
            self.current = item
            self.history.append(item)
            await asyncio.sleep(0)
            return self.current, list(self.history)

    node = Stateful()
    result = await rg.Graph(node).run()
    assert result.result == [(i, [i]) for i in (1, 2, 3, 4)]
    assert node.history == [] and node.current is None


@pytest.mark.parametrize("node_class", [rg.BatchNode, rg.ParallelBatchNode])
async def test_retries_are_counted_per_item(node_class: type[rg.BatchNode]) -> None:
    sleep = SleepRecorder()
    failures = {"a": 0, "b": 2, "c": 1}

    class Retry(node_class):  # type: ignore[misc, valid-type]
        max_retries = 3
        wait = 0.25

        def prep(self, shared: Any) -> list[str]:
            return ["a", "b", "c"]

        async def exec(self, item: str) -> tuple[str, int]:
            if self.attempt <= failures[item]:
                raise ConnectionError(f"{item} attempt {self.attempt}")
            return item, self.attempt

    node = Retry(sleep=sleep)
    async with rt.Session() as session:
        result = await rg.Graph(node).run()
    assert result.result == [("a", 1), ("b", 3), ("c", 2)]
    assert sleep.delays == [0.25] * 3
    step = next(r for _, r in session.info.walk() if r.node_name == "Retry")
    assert step.output["attempts"] == 6
    failed = [s for _, n, s in tree(session) if n == "Retry.exec"].count("failed")
    assert failed == 3
    assert node.statistics().retries == 3


async def test_per_item_fallback() -> None:
    class WithFallback(rg.BatchNode[int, int]):
        def prep(self, shared: Any) -> list[int]:
            return [1, 0, 2]

        def exec(self, item: int) -> float:
            return 1 / item

        def exec_fallback(self, item: int, exc: BaseException) -> float:
            assert isinstance(exc, ZeroDivisionError)
            return float("inf")

    result = await rg.Graph(WithFallback()).run()
    assert result.result == [1.0, float("inf"), 0.5]


def test_max_concurrency_is_validated() -> None:
    with pytest.raises(rt.ConfigurationError, match="max_concurrency"):
        rg.ParallelBatchNode(max_concurrency=0)
    with pytest.raises(rt.ConfigurationError, match="return_exceptions"):
        rg.BatchNode(return_exceptions="yes")  # type: ignore[arg-type]
