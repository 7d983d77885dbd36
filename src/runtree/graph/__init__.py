"""Graphs of prep/exec/post nodes on top of runtree calls.

``import runtree.graph as rg``::

    class Load(rg.Node):
        def exec(self, prep_res):
            return [1, 2, 3]

        def post(self, shared, prep_res, exec_res):
            shared["items"] = exec_res

    load >> clean >> [left, right] >> merge       # >> wires, a list fans out
    check - "retry" >> load                        # an action picks the successor
    check - "done" >> None                         # an end wired on purpose
    result = await rg.Graph(load).run({})          # every step is a request of the run tree

    class PerFile(rg.BatchGraph):                  # the steps once per parameter set
        def prep(self, shared):
            return [{"file": name} for name in shared["files"]]  # nodes read self.params

Journaled runs resume with the shared store restored. See ``docs/graph.md``.
"""

from __future__ import annotations

from runtree.graph.base import DEFAULT_ACTION, BaseNode, StepOutcome, Transition
from runtree.graph.batch import BatchNode, ParallelBatchNode
from runtree.graph.batch_graph import BatchGraph, ParallelBatchGraph
from runtree.graph.errors import (
    GraphDefinitionError,
    GraphError,
    GraphResumeError,
    GraphWarning,
    MaxStepsExceededError,
    SharedStateConflictError,
    SuccessorsIgnoredWarning,
    UnmatchedActionError,
    UnmatchedActionWarning,
)
from runtree.graph.graph import (
    DEFAULT_MAX_STEPS,
    MERMAID_ATTRIBUTE,
    Graph,
    GraphResult,
    GraphStatistics,
    UnmatchedAction,
)
from runtree.graph.node import Node, NodeStatistics
from runtree.graph.parallel import DEFAULT_INTO, Parallel
from runtree.graph.shared import DELETED, BranchStore, SharedConflict

__all__ = [
    "BaseNode",
    "BatchGraph",
    "BatchNode",
    "BranchStore",
    "DEFAULT_ACTION",
    "DEFAULT_INTO",
    "DEFAULT_MAX_STEPS",
    "DELETED",
    "Graph",
    "GraphDefinitionError",
    "GraphError",
    "GraphResult",
    "GraphResumeError",
    "GraphStatistics",
    "GraphWarning",
    "MERMAID_ATTRIBUTE",
    "MaxStepsExceededError",
    "Node",
    "NodeStatistics",
    "Parallel",
    "ParallelBatchGraph",
    "ParallelBatchNode",
    "SharedConflict",
    "SharedStateConflictError",
    "StepOutcome",
    "SuccessorsIgnoredWarning",
    "Transition",
    "UnmatchedAction",
    "UnmatchedActionError",
    "UnmatchedActionWarning",
]
