"""Graphs: actions, loops and max_steps, unmatched actions, nested graphs."""

from __future__ import annotations

import pickle
import warnings
from typing import Any

import pytest

import runtree as rt
import runtree.graph as rg

from .helpers import names, tree


class Route(rg.Node):
    """Returns the action stored under shared["route"]."""

    def post(self, shared: Any, prep_res: Any, exec_res: Any) -> Any:
        return shared["route"]


class Mark(rg.Node):
    """Appends its name to shared["seen"] (a new list: safe in parallel branches too)."""

    def post(self, shared: Any, prep_res: Any, exec_res: Any) -> Any:
        shared["seen"] = [*shared.get("seen", []), self.name]
        return None


@pytest.mark.parametrize(("route", "expected"), [("urgent", "fast"), ("bulk", "batch")])
async def test_actions_pick_the_successor(route: str, expected: str) -> None:
    router = Route()
    router - "urgent" >> Mark(name="fast")
    router - "bulk" >> Mark(name="batch")
    router >> Mark(name="normal")
    result = await rg.Graph(router).run({"route": route})
    assert result.path == ("Route", expected)
    assert result.shared["seen"] == [expected]


async def test_default_action_and_none() -> None:
    router = Route()
    router >> Mark(name="normal")
    result = await rg.Graph(router).run({"route": None})
    assert result.path == ("Route", "normal")


class Counter(rg.Node):
    def post(self, shared: Any, prep_res: Any, exec_res: Any) -> str:
        shared["n"] = shared.get("n", 0) + 1
        return "again" if shared["n"] < shared["until"] else "stop"


async def test_loop_until_condition() -> None:
    count, check = Counter(), Mark(name="check")
    count - "again" >> check
    check >> count
    count - "stop" >> Mark(name="end")
    result = await rg.Graph(count).run({"until": 3})
    assert result.path == ("Counter", "check", "Counter", "check", "Counter", "end")
    assert result.shared["n"] == 3


async def test_max_steps_names_the_loop() -> None:
    count, check = Counter(), Mark(name="check")
    count - "again" >> check
    check >> count
    count - "stop" >> Mark(name="end")
    graph = rg.Graph(count, name="looping", max_steps=7)
    with pytest.raises(rg.MaxStepsExceededError) as info:
        await graph.run({"until": 100})
    error = info.value
    assert error.loop == ("check", "Counter", "check")
    assert error.graph == "looping"
    assert error.max_steps == 7
    assert "check -> Counter -> check" in str(error)
    assert "max_steps=7" in str(error)
    assert isinstance(error, RuntimeError)
    assert graph.statistics().failed == 1
    copy = pickle.loads(pickle.dumps(error))
    assert copy.loop == error.loop and str(copy) == str(error)


async def test_self_loop_is_named() -> None:
    node = Route()
    node - "again" >> node
    with pytest.raises(rg.MaxStepsExceededError, match="Route -> Route"):
        await rg.Graph(node, max_steps=3).run({"route": "again"})


async def test_unmatched_action_stops_with_a_record() -> None:
    router = Route()
    router - "yes" >> Mark(name="accept")
    router - "no" >> Mark(name="reject")
    graph = rg.Graph(router, name="review")
    with pytest.warns(rg.UnmatchedActionWarning) as caught:
        async with rt.Session() as session:
            result = await graph.run({"route": "maybe"})
    assert len(caught) == 1
    assert str(caught[0].message).startswith(
        "Graph ends: 'maybe' not found in ['yes', 'no'] (graph 'review' stopped after node "
        "'Route'); wire it (`Route - 'maybe' >> next`)"
    )
    assert issubclass(rg.UnmatchedActionWarning, UserWarning)
    assert not result.completed
    assert result.unmatched == rg.UnmatchedAction(
        graph="review", node="Route", action="maybe", available=("yes", "no")
    )
    assert result.last_node == "Route" and result.action == "maybe"
    record = next(r for _, r in session.info.walk() if r.node_name == "UnmatchedAction")
    assert record.output == result.unmatched.to_record()
    assert record.status == "succeeded"
    assert graph.statistics().unmatched == 1


async def test_none_action_without_a_default_successor_is_unmatched() -> None:
    router = Route()
    router - "yes" >> Mark()
    with pytest.warns(rg.UnmatchedActionWarning, match=r"'None' not found in \['yes'\]"):
        result = await rg.Graph(router).run({"route": None})
    assert result.unmatched is not None and result.unmatched.action is None
    assert result.action is None


async def test_terminal_node_is_no_unmatched_action() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with rt.Session() as session:
            result = await rg.Graph(Route()).run({"route": "finished"})
    assert result.completed and result.action == "finished"
    assert "UnmatchedAction" not in names(session)


async def test_an_end_wired_with_none_stops_without_warning() -> None:
    router = Route()
    after = Mark(name="after")
    assert (router - "stop" >> None) is None
    router - "go" >> after
    after >> None  # a default end: the run stops after `after`
    assert router.successors == {"stop": None, "go": after}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stopped = await rg.Graph(router).run({"route": "stop"})
        went = await rg.Graph(router).run({"route": "go"})
    assert stopped.completed and stopped.path == ("Route",) and stopped.action == "stop"
    assert went.completed and went.path == ("Route", "after") and went.action is None
    with pytest.raises(rg.GraphDefinitionError, match="already goes to the end"):
        router - "stop" >> after


async def test_unmatched_action_can_raise() -> None:
    router = Route()
    router - "yes" >> Mark()
    graph = rg.Graph(router, on_unmatched="raise")
    with pytest.raises(rg.UnmatchedActionError, match="'maybe'") as info:
        await graph.run({"route": "maybe"})
    assert isinstance(info.value, LookupError)
    assert info.value.available == ("yes",)


async def test_nested_graph_is_a_step_and_its_final_action_routes() -> None:
    inner_start = Mark(name="inner-a")
    inner_end = Route(name="inner-decide")
    inner_start >> inner_end
    inner = rg.Graph(inner_start, name="inner")

    outer_start = Mark(name="outer-start")
    outer_start >> inner
    inner - "left" >> Mark(name="went-left")
    inner - "right" >> Mark(name="went-right")

    async with rt.Session() as session:
        result = await rg.Graph(outer_start, name="outer").run({"route": "right"})
    assert result.path == ("outer-start", "inner", "went-right")
    assert result.shared["seen"] == ["outer-start", "inner-a", "went-right"]
    assert tree(session) == [
        (0, "outer", "succeeded"),
        (1, "outer-start", "succeeded"),
        (2, "outer-start.exec", "succeeded"),
        (1, "inner", "succeeded"),
        (2, "inner-a", "succeeded"),
        (3, "inner-a.exec", "succeeded"),
        (2, "inner-decide", "succeeded"),
        (3, "inner-decide.exec", "succeeded"),
        (1, "went-right", "succeeded"),
        (2, "went-right.exec", "succeeded"),
    ]
    inner_record = session.info.get(session.info.get(session.info.roots[0]).children[1])
    inner_result = rg.GraphResult.from_record(inner_record.output, result.shared)
    assert inner_result.path == ("inner-a", "inner-decide")
    assert inner_result.action == "right"


async def test_graph_runs_are_independent() -> None:
    class Accumulate(rg.Node):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[Any] = []

        async def exec(self, prep_res: Any) -> list[Any]:
            self.seen.append(prep_res)
            return list(self.seen)

        def prep(self, shared: Any) -> Any:
            return shared["value"]

        def post(self, shared: Any, prep_res: Any, exec_res: list[Any]) -> None:
            shared["seen"] = exec_res

    node = Accumulate()
    graph = rg.Graph(node)
    first, second = await rt.call_batch(graph.run, [{"value": 1}, {"value": 2}])
    assert first.shared["seen"] == [1]
    assert second.shared["seen"] == [2]
    assert node.seen == []
    assert graph.statistics().runs == 2


async def test_statistics() -> None:
    a, b = Mark(name="a"), Mark(name="b")
    a >> b
    graph = rg.Graph(a)
    await graph.run()
    await graph.run()
    stats = graph.statistics()
    assert (stats.runs, stats.completed, stats.steps, stats.failed) == (2, 2, 4, 0)
    assert a.statistics().steps == 2


def test_nodes_lists_reachable_steps() -> None:
    a, b, c = Mark(name="a"), Mark(name="b"), Mark(name="c")
    a >> [b, c]
    names_ = {node.name for node in rg.Graph(a).nodes()}
    assert names_ == {"a", "b", "c", "Parallel(b, c)"}


async def test_shared_store_must_be_a_mapping() -> None:
    with pytest.raises(rt.ConfigurationError, match="shared store"):
        await rg.Graph(Mark()).run([1, 2])  # type: ignore[arg-type]


def test_run_sync_outside_a_session() -> None:
    a, b = Mark(name="a"), Mark(name="b")
    a >> b
    result = rg.Graph(a).run_sync()
    assert result.shared == {"seen": ["a", "b"]}
