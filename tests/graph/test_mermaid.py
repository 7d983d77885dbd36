"""Graph.to_mermaid(): a graph as Mermaid flowchart text."""

from __future__ import annotations

import asyncio

import pytest

import runtree as rt
import runtree.graph as rg


class Load(rg.Node):
    pass


class Check(rg.Node):
    pass


class Left(rg.Node):
    pass


class Right(rg.Node):
    pass


def test_nodes_actions_loops_parallel_and_nested_graphs() -> None:
    load, check = Load(), Check(name='say "hi" #1')
    inner = rg.Graph(Load(name="inner-load"), name="inner")
    load >> check
    check - "again" >> load
    check - "a|b" >> rg.Parallel(Left(), Right()) >> inner
    text = rg.Graph(load, name="flow").to_mermaid()
    assert text.splitlines() == [
        "flowchart TD",
        '    n0["Load"]',
        '    n1["say #quot;hi#quot; #35;1"]',
        '    n2{{"Parallel(Left, Right)"}}',
        '    n3["Left"]',
        '    n4["Right"]',
        '    n5[["inner"]]',
        "    n0 --> n1",
        "    n1 -->|again| n0",
        "    n1 -->|a#124;b| n2",
        "    n2 -.-> n3",
        "    n2 -.-> n4",
        "    n2 --> n5",
        "    classDef start stroke-width:3px",
        "    class n0 start",
    ]


def test_direction() -> None:
    graph = rg.Graph(Load())
    assert graph.to_mermaid(direction="LR").startswith("flowchart LR\n")
    with pytest.raises(ValueError, match="direction must be one of TD, LR, BT, RL"):
        graph.to_mermaid(direction="sideways")


def run_and_walk(graph: rg.Graph, runs: int = 1) -> list[tuple[str, object]]:
    async def main() -> list[tuple[str, object]]:
        async with rt.Session(store=None) as session:
            for _ in range(runs):
                await graph.run({})
        return [(r.node_name, r.attributes) for _, r in session.info.walk()]

    return asyncio.run(main())


def count_drawings(graph: rg.Graph, made: list[str]) -> None:
    """Record in ``made`` each time ``graph`` draws itself."""
    draw = graph.to_mermaid

    def counted(*, direction: str = "TD") -> str:
        made.append(graph.name)
        return draw(direction=direction)

    graph.to_mermaid = counted  # type: ignore[method-assign]


def test_a_graph_request_carries_its_picture_made_once() -> None:
    load, check = Load(), Check()
    inner = rg.Graph(Left(), name="inner")
    load >> check >> inner
    graph = rg.Graph(load, name="flow")
    expected = {"flow": graph.to_mermaid(), "inner": inner.to_mermaid()}
    made: list[str] = []
    count_drawings(graph, made)
    count_drawings(inner, made)
    walked = run_and_walk(graph, runs=3)
    pictures = [(name, attrs) for name, attrs in walked if attrs]
    assert pictures == [(name, {rg.MERMAID_ATTRIBUTE: expected[name]})
                        for name in ("flow", "inner") * 3]  # fmt: skip
    assert sorted(made) == ["flow", "inner"]  # once per graph, not per run or step
    inner >> Right()  # any rewiring makes the next run draw the graph again
    (picture,) = [attrs for name, attrs in run_and_walk(graph, runs=2) if name == "flow"][:1]
    assert picture is not None and '["Right"]' in picture[rg.MERMAID_ATTRIBUTE]
    assert sorted(made) == ["flow", "flow", "inner", "inner"]


def test_run_sync_and_a_failed_run_carry_the_picture_too() -> None:
    class Broken(rg.Node):
        def exec(self, prep_res: object) -> None:
            raise OSError("disk full")

    graph = rg.Graph(Broken(), name="broken")
    with rt.Session(store=None) as session, pytest.raises(OSError, match="disk full"):
        graph.run_sync({})
    (root,) = session.info.root_requests()
    assert root.status == "failed"
    assert root.attributes == {rg.MERMAID_ATTRIBUTE: graph.to_mermaid()}
