"""Graph.to_mermaid(): a graph as Mermaid flowchart text."""

from __future__ import annotations

import pytest

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
