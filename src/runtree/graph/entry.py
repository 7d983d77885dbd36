"""A graph as the root call of a run: what ``runtree run file.py:GRAPH`` calls.

:func:`graph_entry` turns a graph object (a ``Graph``, or any graph node) or a graph node
class (created without arguments) into a runtree node class. Calling it with a shared store
(a JSON object; ``{}`` when not given) and keyword params runs the graph; its request is
the graph run itself (named after the graph, its steps below it), and its output is the
outcome as JSON data: ``action``, ``path``, ``steps``, ``last_node``, ``result`` and the
final ``shared`` store. The class carries the target's module and name, so the journal
records the target as the run's root and ``runtree resume`` finds the graph again.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from runtree.graph._tracking import StepContext, run_inline
from runtree.graph.base import BaseNode, check_params, check_store
from runtree.graph.graph import GraphResult
from runtree.nodes.node import Node as RuntreeNode

__all__ = ["GraphEntry", "graph_entry", "is_graph_target"]


def is_graph_target(target: object) -> bool:
    """Whether ``target`` is a graph node, or a graph node class."""
    if isinstance(target, type):
        return issubclass(target, BaseNode)
    return isinstance(target, BaseNode)


class GraphEntry(RuntreeNode[dict[str, Any]]):
    """Base of the classes :func:`graph_entry` makes: runs ``graph`` on the event loop."""

    execution_mode: ClassVar[str | None] = "async"
    graph: ClassVar[BaseNode]

    def __init__(self, shared: dict[str, Any] | None = None, **params: Any) -> None:
        super().__init__()
        self.shared = shared
        self.params = params

    async def invoke(self) -> dict[str, Any]:
        graph = self.graph
        # the run works on its own copy: the call's arguments stay as they were given
        store = copy.deepcopy(check_store(self.shared, f"graph {graph.name!r}"))
        params = check_params(self.params, f"graph {graph.name!r}")
        graph._check_runnable()
        ctx = StepContext.start(store, params)
        record = await run_inline(graph.name, ctx, lambda: graph._step_body(ctx))
        result = GraphResult.from_record(record, store)
        return {
            "graph": result.graph,
            "action": result.action,
            "path": list(result.path),
            "steps": result.steps,
            "last_node": result.last_node,
            "completed": result.completed,
            "result": result.result,
            "shared": dict(store),
        }


def graph_entry(target: BaseNode | type[BaseNode], module: str, qualname: str) -> type[GraphEntry]:
    """A node class that runs ``target`` (see the module docstring); a graph node class is
    created without arguments (a ``TypeError`` says which it needs)."""
    graph = target() if isinstance(target, type) else target
    name = graph.name
    return type(
        qualname.rpartition(".")[2] or "GraphEntry",
        (GraphEntry,),
        {
            "graph": graph,
            "name": classmethod(lambda cls: name),
            "__module__": module,
            "__qualname__": qualname,
        },
    )
