"""Fan-out / fan-in: declared join order, isolation of branches, conflicts, failures."""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

import pytest

import runtree as rt
import runtree.graph as rg

from .helpers import tree


class Worker(rg.Node):
    """Finishes after the worker named ``after`` (if any); returns its own name."""

    def __init__(self, name: str, *, after: str | None = None, writes: str | None = None):
        super().__init__(name=name)
        self.after = after
        self.writes = writes

    async def exec(self, prep_res: Any) -> str:
        events: dict[str, asyncio.Event] = prep_res
        if self.after is not None:
            await events[self.after].wait()
        events[self.name].set()
        return self.name.upper()

    def prep(self, shared: Any) -> Any:
        return shared["events"]

    def post(self, shared: Any, prep_res: Any, exec_res: str) -> None:
        if self.writes is not None:
            shared[self.writes] = exec_res


class Merge(rg.Node):
    def prep(self, shared: Any) -> list[str]:
        return shared["parallel_results"]

    def exec(self, results: list[str]) -> str:
        return "+".join(results)

    def post(self, shared: Any, prep_res: Any, exec_res: str) -> None:
        shared["merged"] = exec_res


def events(*names: str) -> dict[str, asyncio.Event]:
    return {name: asyncio.Event() for name in names}


async def test_fan_out_joins_in_declared_order_not_finishing_order() -> None:
    # c finishes first, then b, then a: the join still lists a, b, c
    a, b, c = Worker("a", after="b"), Worker("b", after="c"), Worker("c")
    start, merge = Worker("start"), Merge()
    start >> [a, b, c] >> merge
    finished: list[str] = []
    shared: dict[str, Any] = {"events": events("start", "a", "b", "c")}
    for name, event in shared["events"].items():
        asyncio.get_running_loop().create_task(event.wait()).add_done_callback(
            lambda _, name=name: finished.append(name)
        )
    async with rt.Session() as session:
        result = await rg.Graph(start).run(shared)
    assert shared["parallel_results"] == ["A", "B", "C"]
    assert shared["merged"] == "A+B+C"
    assert finished.index("c") < finished.index("b") < finished.index("a")
    assert result.path == ("start", "Parallel(a, b, c)", "Merge")
    step = [(d, n) for d, n, _ in tree(session) if not n.endswith(".exec")][1:]
    assert step[:6] == [
        (1, "start"),
        (1, "Parallel(a, b, c)"),
        (2, "a"),
        (2, "b"),
        (2, "c"),
        (1, "Merge"),
    ]


async def test_parallel_object_with_options_and_chain_branches() -> None:
    left1, left2 = Worker("l1"), Worker("l2")
    left1 >> left2
    right = Worker("r")
    fan = rg.Parallel(rg.Graph(left1, name="left"), right, name="fan", into="joined")
    merge = Merge()
    start = Worker("s")
    start >> fan >> merge
    shared: dict[str, Any] = {"events": events("s", "l1", "l2", "r"), "parallel_results": []}
    result = await rg.Graph(start).run(shared)
    assert shared["joined"] == ["L2", "R"]  # a nested graph's result is its last step's
    assert result.path == ("s", "fan", "Merge")


async def test_branches_see_only_their_own_writes_until_the_join() -> None:
    seen: dict[str, Any] = {}

    class Writer(rg.Node):
        async def prep(self, shared: Any) -> None:
            shared[f"{self.name}-key"] = self.name
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            seen[self.name] = sorted(k for k in shared if k.endswith("-key"))

    start = Worker("start")
    start >> [Writer(name="x"), Writer(name="y")]
    shared: dict[str, Any] = {"events": events("start")}
    await rg.Graph(start).run(shared)
    assert seen == {"x": ["x-key"], "y": ["y-key"]}
    assert shared["x-key"] == "x" and shared["y-key"] == "y"


async def test_conflicting_writes_raise_and_merge_nothing() -> None:
    start = Worker("start")
    start >> [Worker("a", writes="answer"), Worker("b", writes="answer"), Worker("c", writes="c")]
    shared: dict[str, Any] = {"events": events("start", "a", "b", "c")}
    with pytest.raises(rg.SharedStateConflictError) as info:
        await rg.Graph(start).run(shared)
    error = info.value
    assert error.conflicts == (
        rg.SharedConflict(key="answer", branches=("a", "b"), values=("A", "B")),
    )
    assert "'answer' written by 2 branches" in str(error)
    assert "answer" not in shared and "c" not in shared and "parallel_results" not in shared
    assert isinstance(error, RuntimeError)
    copy = pickle.loads(pickle.dumps(error))
    assert copy.conflicts == error.conflicts and copy.step == error.step


@pytest.mark.parametrize(("policy", "winner"), [("last_wins", "B"), ("first_wins", "A")])
async def test_conflict_policies_resolve_in_declared_order(policy: Any, winner: str) -> None:
    start = Worker("start")
    fan = rg.Parallel(
        Worker("a", writes="answer", after="b"), Worker("b", writes="answer"), on_conflict=policy
    )
    start >> fan
    shared: dict[str, Any] = {"events": events("start", "a", "b")}
    result = await rg.Graph(start).run(shared)
    assert shared["answer"] == winner
    assert [c.key for c in result.conflicts] == ["answer"]


async def test_deleting_a_key_in_two_branches_is_a_conflict() -> None:
    class Delete(rg.Node):
        def post(self, shared: Any, prep_res: Any, exec_res: Any) -> None:
            del shared["x"]
            assert "x" not in shared

    fan = rg.Parallel(Delete(name="d1"), Delete(name="d2"), into=None)
    with pytest.raises(rg.SharedStateConflictError, match="'x'") as info:
        await rg.Graph(fan).run({"x": 1})
    assert info.value.conflicts[0].values == (rg.DELETED, rg.DELETED)


class Boom(ValueError):
    pass


async def test_failing_branch_cancels_its_siblings() -> None:
    cancelled: list[str] = []
    started = asyncio.Event()

    class Slow(rg.Node):
        async def exec(self, prep_res: Any) -> None:
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(self.name)
                raise

    class Fails(rg.Node):
        async def exec(self, prep_res: Any) -> None:
            await started.wait()
            raise Boom("branch failed")

    fan = rg.Parallel(Slow(name="slow"), Fails(name="fails"))
    async with rt.Session() as session:
        with pytest.raises(Boom, match="branch failed"):
            await rg.Graph(fan).run({})
    assert cancelled == ["slow"]
    statuses = {name: status for _, name, status in tree(session)}
    assert statuses["slow.exec"] == "cancelled"
    assert statuses["fails.exec"] == "failed"


async def test_return_exceptions_collects_branch_errors() -> None:
    class Fails(rg.Node):
        def exec(self, prep_res: Any) -> None:
            raise Boom("nope")

        def post(self, shared: Any, prep_res: Any, exec_res: Any) -> None:
            shared["never"] = True

    class Ok(rg.Node):
        def post(self, shared: Any, prep_res: Any, exec_res: Any) -> None:
            shared["ok"] = True

    fan = rg.Parallel(Ok(), Fails(), return_exceptions=True)
    shared: dict[str, Any] = {}
    await rg.Graph(fan).run(shared)
    ok, error = shared["parallel_results"]
    assert ok is None and isinstance(error, Boom)
    assert shared["ok"] is True and "never" not in shared


async def test_same_node_in_several_branches_gets_separate_state() -> None:
    class Tag(rg.Node):
        def __init__(self) -> None:
            super().__init__()
            self.items: list[int] = []

        def prep(self, shared: Any) -> int:
            return len(shared)

        async def exec(self, prep_res: Any) -> list[int]:
            self.items.append(1)
            await asyncio.sleep(0)
            return list(self.items)

    tag = Tag()
    fan = rg.Parallel(tag, tag, tag, into="out")
    shared: dict[str, Any] = {}
    await rg.Graph(fan).run(shared)
    assert shared["out"] == [[1], [1], [1]]
    assert fan.labels == ("Tag[0]", "Tag[1]", "Tag[2]")
    assert tag.items == []


async def test_parallel_max_concurrency() -> None:
    running = 0
    peak = 0

    class Busy(rg.Node):
        async def exec(self, prep_res: Any) -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            for _ in range(3):
                await asyncio.sleep(0)
            running -= 1

    fan = rg.Parallel(*(Busy(name=f"b{i}") for i in range(5)), max_concurrency=2)
    await rg.Graph(fan).run()
    assert peak == 2
