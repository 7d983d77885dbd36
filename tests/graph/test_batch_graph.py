"""Batch graphs: the steps run once per parameter set, with per-run params; nesting."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import runtree as rt
import runtree.graph as rg
from runtree.errors import ConfigurationError

from .helpers import tree


class Double(rg.Node):
    """Reads ``shared["input"][key]``, writes ``shared["results"][key]`` (times multiplier)."""

    def prep(self, shared: Any) -> Any:
        return shared["input"][self.params["key"]]

    def exec(self, value: int) -> int:
        return value * self.params.get("multiplier", 2)

    def post(self, shared: Any, prep_res: Any, exec_res: int) -> Any:
        shared.setdefault("results", {})[self.params["key"]] = exec_res
        return "stored"


class PerKey(rg.BatchGraph):
    def prep(self, shared: Any) -> Any:
        return [{"key": key} for key in shared["input"]]


async def test_the_steps_run_once_per_parameter_set() -> None:
    seen: list[Any] = []

    class Summary(PerKey):
        def post(self, shared: Any, prep_res: Any, exec_res: Any) -> Any:
            seen.append((prep_res, exec_res))
            return "summarised"

    double = Double()
    double - "stored" >> None
    async with rt.Session() as session:
        result = await Summary(double).run({"input": {"a": 1, "b": 2, "c": 3}})
    assert result.shared["results"] == {"a": 2, "b": 4, "c": 6}
    assert seen == [([{"key": "a"}, {"key": "b"}, {"key": "c"}], None)]
    assert result.action == "summarised"
    assert result.result == [2, 4, 6]  # each run's last result, in parameter-set order
    assert result.path == ("Double", "Double", "Double")
    assert double.params == {}  # the definition is untouched
    assert [(d, n) for d, n, _ in tree(session)] == [
        (0, "Summary"),
        (1, "Summary[0]"),
        (2, "Double"),
        (3, "Double.exec"),
        (1, "Summary[1]"),
        (2, "Double"),
        (3, "Double.exec"),
        (1, "Summary[2]"),
        (2, "Double"),
        (3, "Double.exec"),
    ]


async def test_graph_params_are_defaults_under_each_parameter_set() -> None:
    class WithMultiplier(rg.BatchGraph):
        def prep(self, shared: Any) -> Any:
            return [{"key": "a"}, {"key": "b", "multiplier": 100}]

    graph = WithMultiplier(Double())
    graph.set_params({"multiplier": 10})
    result = await graph.run({"input": {"a": 1, "b": 2}})
    assert result.shared["results"] == {"a": 10, "b": 200}
    extra = await graph.run({"input": {"a": 1, "b": 2}}, params={"multiplier": 3})
    assert extra.shared["results"] == {"a": 3, "b": 200}  # run(params=) over set_params


async def test_no_parameter_sets_runs_nothing_but_post() -> None:
    posted: list[Any] = []

    class Empty(rg.BatchGraph):
        def prep(self, shared: Any) -> Any:
            return None

        def post(self, shared: Any, prep_res: Any, exec_res: Any) -> Any:
            posted.append(prep_res)

    result = await Empty(Double()).run({})
    assert result.shared == {} and result.steps == 0 and result.result == []
    assert posted == [None]


async def test_nested_batch_graphs_merge_their_params() -> None:
    class Chunk(rg.Node):
        def post(self, shared: Any, prep_res: Any, exec_res: Any) -> Any:
            p = self.params
            shared.setdefault("chunks", []).append((p["file"], p["chunk"], p["mode"]))

    class Chunks(rg.BatchGraph):
        def prep(self, shared: Any) -> Any:
            return [{"chunk": n} for n in range(shared["sizes"][self.params["file"]])]

    class Files(rg.BatchGraph):
        def prep(self, shared: Any) -> Any:
            return [{"file": name} for name in shared["sizes"]]

    inner = Chunks(Chunk())
    inner.set_params({"mode": "inner default"})
    result = await Files(inner).run({"sizes": {"a.txt": 2, "b.txt": 1}}, params={"mode": "fast"})
    assert result.shared["chunks"] == [
        ("a.txt", 0, "fast"),
        ("a.txt", 1, "fast"),
        ("b.txt", 0, "fast"),
    ]
    assert result.path == ("Chunks", "Chunks")
    assert result.result == [[None, None], [None]]


async def test_a_batch_graph_is_a_step_and_its_post_routes() -> None:
    class Ready(PerKey):
        def post(self, shared: Any, prep_res: Any, exec_res: Any) -> Any:
            return "ready"

    class Report(rg.Node):
        def post(self, shared: Any, prep_res: Any, exec_res: Any) -> Any:
            shared["report"] = sorted(shared["results"].items())

    batch = Ready(Double())
    batch - "ready" >> Report()
    result = await rg.Graph(batch).run({"input": {"x": 5}})
    assert result.shared["report"] == [("x", 10)]
    assert result.path == ("Ready", "Report")


async def test_parallel_batch_graph_runs_concurrently_with_a_bound() -> None:
    running = peak = 0
    all_started = asyncio.Event()
    started: list[str] = []

    class Wait(rg.Node):
        async def exec(self, prep_res: Any) -> str:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            started.append(self.params["key"])
            if len(started) == 3:
                all_started.set()
            await all_started.wait()  # only returns once three runs are in at once
            running -= 1
            return self.params["key"]

    class Keys(rg.ParallelBatchGraph):
        def prep(self, shared: Any) -> Any:
            return [{"key": k} for k in "abcd"]

    result = await Keys(Wait(), max_concurrency=3).run({})
    assert result.result == ["a", "b", "c", "d"]  # in parameter-set order
    assert peak == 3


async def test_a_failing_run_cancels_the_parallel_others() -> None:
    blocked = asyncio.Event()

    class Step(rg.Node):
        async def exec(self, prep_res: Any) -> None:
            if self.params["key"] == "bad":
                await blocked.wait()
                raise KeyError("bad run")
            blocked.set()
            await asyncio.Event().wait()  # until cancelled

    class Keys(rg.ParallelBatchGraph):
        def prep(self, shared: Any) -> Any:
            return [{"key": "slow"}, {"key": "bad"}]

    async with rt.Session() as session:
        with pytest.raises(KeyError, match="bad run"):
            await Keys(Step()).run({})
    statuses = {(n, s) for _, n, s in tree(session)}
    assert ("Keys[0]", "cancelled") in statuses
    assert ("Keys[1]", "failed") in statuses


async def test_a_failing_run_stops_a_sequential_batch() -> None:
    class Step(rg.Node):
        def exec(self, prep_res: Any) -> None:
            if self.params["key"] == 2:
                raise ValueError("two")

    class Keys(rg.BatchGraph):
        def prep(self, shared: Any) -> Any:
            return [{"key": k} for k in (1, 2, 3)]

    async with rt.Session() as session:
        with pytest.raises(ValueError, match="two"):
            await Keys(Step()).run({})
    assert [n for _, n, _ in tree(session) if n.startswith("Keys[")] == ["Keys[0]", "Keys[1]"]


@pytest.mark.parametrize(
    ("prep_res", "error", "message"),
    [
        ({"key": "a"}, rg.GraphDefinitionError, r"wrap one set in a list: \[params\]"),
        ("abc", rg.GraphDefinitionError, "iterable of parameter sets"),
        ([{"key": "a"}, 3], ConfigurationError, "parameter set 1: params must be a dict"),
    ],
)
async def test_bad_parameter_sets_are_named(prep_res: Any, error: type, message: str) -> None:
    class Bad(rg.BatchGraph):
        def prep(self, shared: Any) -> Any:
            return prep_res

    with pytest.raises(error, match=message):
        await Bad(Double()).run({"input": {"a": 1}})


def test_bad_max_concurrency() -> None:
    with pytest.raises(ConfigurationError, match="max_concurrency"):
        rg.ParallelBatchGraph(Double(), max_concurrency=0)
