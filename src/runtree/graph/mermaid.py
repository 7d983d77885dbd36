"""A graph as Mermaid flowchart text: ``graph.to_mermaid()``, ``runtree graph file.py:G``.

Each node is a box named after the node (a nested graph is a double box, a parallel step a
hexagon whose branches hang from it by dotted arrows); each wiring is an arrow labelled with
its action (``a >> b`` draws a plain arrow, the ``"default"`` action). The start node has the
class ``start``. Paste the text into any Mermaid renderer, or let ``runtree viz`` draw it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtree.graph.base import DEFAULT_ACTION, BaseNode

if TYPE_CHECKING:
    from runtree.graph.graph import Graph

__all__ = ["DIRECTIONS", "to_mermaid"]

#: top-down, left-right, bottom-up, right-left
DIRECTIONS = ("TD", "LR", "BT", "RL")


def _text(name: str) -> str:
    """A name inside Mermaid quotes (entity codes for the characters Mermaid reads)."""
    return name.replace("#", "#35;").replace('"', "#quot;").replace("|", "#124;")


def _box(key: str, node: BaseNode) -> str:
    from runtree.graph.graph import Graph
    from runtree.graph.parallel import Parallel

    label = _text(node.name)
    if isinstance(node, Graph):
        return f'{key}[["{label}"]]'
    if isinstance(node, Parallel):
        return f'{key}{{{{"{label}"}}}}'
    return f'{key}["{label}"]'


def to_mermaid(graph: Graph, *, direction: str = "TD") -> str:
    """The nodes reachable from the graph's start node and their wiring, as a Mermaid flowchart
    (nested graphs are one box each; their insides are their own ``to_mermaid()``)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    keys: dict[int, str] = {}
    order: list[BaseNode] = []
    start = graph._first()
    queue: list[BaseNode] = [start]
    while queue:  # breadth first, in wiring order: stable ids for the same graph
        node = queue.pop(0)
        if id(node) in keys:
            continue
        keys[id(node)] = f"n{len(keys)}"
        order.append(node)
        queue.extend(node._children())
        queue.extend(target for target in node._wiring().values() if target is not None)
    lines = [f"flowchart {direction}"]
    lines += [f"    {_box(keys[id(node)], node)}" for node in order]
    for node in order:
        key = keys[id(node)]
        for branch in node._children():
            lines.append(f"    {key} -.-> {keys[id(branch)]}")
        for action, target in node._wiring().items():
            if target is None:  # `>> None`: the action ends the run on purpose
                continue
            arrow = "-->" if action == DEFAULT_ACTION else f"-->|{_text(action)}|"
            lines.append(f"    {key} {arrow} {keys[id(target)]}")
    lines.append("    classDef start stroke-width:3px")
    lines.append(f"    class {keys[id(start)]} start")
    return "\n".join(lines) + "\n"
