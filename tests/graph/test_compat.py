"""What PocketFlow and KayGraph code relies on, where the two agree (docs/migrating.md):
building a graph before its start node, ``start()`` chaining, a graph's own prep/post and
its action, graphs as steps of graphs, params, running one node, ``max_retries`` as the
number of attempts, ``cur_retry``, positional options, batch nodes given no items."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

import runtree as rt
import runtree.graph as rg


class SetTo(rg.Node):
    def __init__(self, value: int) -> None:
        super().__init__()
        self.value = value

    def prep(self, shared: Any) -> None:
        shared["current"] = self.value


class Add(SetTo):
    def prep(self, shared: Any) -> None:
        shared["current"] += self.value


class Times(SetTo):
    def prep(self, shared: Any) -> None:
        shared["current"] *= self.value


class Sign(rg.Node):
    def post(self, shared: Any, prep_res: Any, exec_res: Any) -> str:
        return "positive" if shared["current"] >= 0 else "negative"


class Say(rg.Node):
    def __init__(self, word: str) -> None:
        super().__init__()
        self.word = word

    def post(self, shared: Any, prep_res: Any, exec_res: Any) -> str:
        shared.setdefault("said", []).append(self.word)
        return self.word


def test_a_graph_made_before_its_start_node_and_start_chaining() -> None:
    chained = rg.Graph()
    chained.start(SetTo(5)).next(Add(3)).next(Times(2))
    result = chained.run_sync({})
    assert result.shared["current"] == 16
    assert result.action is None  # the last post returned nothing

    with_shift = rg.Graph()
    with_shift.start(SetTo(5)) >> Add(3) >> Times(2)
    assert with_shift.run_sync({}).shared["current"] == 16

    with pytest.raises(rg.GraphDefinitionError, match="has no start node"):
        rg.Graph(name="empty").run_sync({})


@pytest.mark.parametrize(("start", "expected"), [(10, -22), (-1, -21)])
def test_branches_and_a_loop_ending_on_a_signal(start: int, expected: int) -> None:
    check, minus = Sign(), Add(-3)
    graph = rg.Graph()
    graph.start(SetTo(start)) >> check
    check - "positive" >> minus >> check
    check - "negative" >> Add(-20) >> Say("cycle done")
    result = graph.run_sync({})
    assert result.shared["current"] == expected
    assert result.action == "cycle done"


def test_graphs_are_steps_of_graphs() -> None:
    first = rg.Graph(SetTo(5))
    first >> Add(10) >> Times(2)  # wired after the graph as a whole
    assert rg.Graph(rg.Graph(first)).run_sync({}).shared["current"] == 30

    inner = rg.Graph(SetTo(100))
    inner.start_node >> Say("inner done")  # type: ignore[operator]
    outer = rg.Graph()
    outer.start(inner)
    inner - "inner done" >> Say("B")
    inner - "other" >> Say("A")
    result = outer.run_sync({})
    assert result.shared["said"] == ["inner done", "B"]
    assert result.action == "B"


def test_a_graphs_own_prep_and_post() -> None:
    calls: list[Any] = []

    class Audited(rg.Graph):
        def prep(self, shared: Any) -> str:
            shared["current"] = 1
            return "prepared"

        async def post(self, shared: Any, prep_res: Any, exec_res: Any) -> str:
            calls.append((prep_res, exec_res))
            return "audited"

    audited = Audited(Add(1))
    audited.start_node >> Say("added")  # type: ignore[operator]
    audited - "audited" >> Say("after")
    result = rg.Graph(audited).run_sync({})
    assert calls == [("prepared", "added")]
    assert result.shared["current"] == 2
    assert result.path == ("Audited", "Say")
    assert result.shared["said"] == ["added", "after"]


def test_running_one_node() -> None:
    say = Say("hello")
    result = say.run_sync({})
    assert (result.action, result.path, result.shared) == ("hello", ("Say",), {"said": ["hello"]})

    say >> Say("never")
    with pytest.warns(rg.SuccessorsIgnoredWarning, match=r"successors \(default\) are not"):
        again = say.run_sync({})
    assert again.shared == {"said": ["hello"]}


async def test_params_reach_every_step() -> None:
    class Report(rg.Node):
        def post(self, shared: Any, prep_res: Any, exec_res: Any) -> None:
            shared["seen"] = dict(self.params)

    graph = rg.Graph(Report())
    graph.params = {"who": "graph"}  # as PocketFlow code assigns it
    assert (await graph.run({})).shared["seen"] == {"who": "graph"}
    report = Report()
    report.set_params({"who": "node", "extra": 1})
    assert (await rg.Graph(report).run({}, params={"who": "run"})).shared["seen"] == {
        "who": "run",
        "extra": 1,
    }
    with pytest.raises(rt.ConfigurationError, match="params must be a dict"):
        report.set_params(["who"])  # type: ignore[arg-type]


async def test_max_retries_counts_attempts_and_cur_retry_counts_from_zero() -> None:
    class Failing(rg.Node):
        def __init__(self, max_retries: int) -> None:
            super().__init__(max_retries=max_retries)
            self.tries: list[int] = []

        def exec(self, prep_res: Any) -> str:
            self.tries.append(self.cur_retry)
            raise ValueError("no")

        def exec_fallback(self, prep_res: Any, exc: BaseException) -> list[int]:
            return self.tries

    assert (await Failing(1).run({})).result == [0]
    assert (await Failing(3).run({})).result == [0, 1, 2]
    assert rg.Node().max_retries == 1 and rg.Node().wait == 0


async def test_batch_nodes_given_no_items() -> None:
    class Nothing(rg.BatchNode):
        def post(self, shared: Any, prep_res: Any, exec_res: Any) -> Any:
            shared["results"] = exec_res

    for node in (Nothing(), type("Parallel", (Nothing, rg.ParallelBatchNode), {})()):
        assert (await node.run({})).shared["results"] == []


async def test_node_state_changed_in_exec_is_seen_by_its_post() -> None:
    class Count(rg.Node):
        def __init__(self) -> None:
            super().__init__(2)
            self.attempts = 0

        def exec(self, prep_res: Any) -> None:
            self.attempts += 1
            if self.attempts == 1:
                raise ConnectionError("again")

        def post(self, shared: Any, prep_res: Any, exec_res: Any) -> None:
            shared["attempts"] = self.attempts

    node = Count()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (await node.run({})).shared["attempts"] == 2
    assert node.attempts == 0  # the run worked on its own copy of the node
