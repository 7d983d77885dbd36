"""What a node is: ``Node``, its details, ``NodeState``, ``NodeBuilder``, function nodes."""

from __future__ import annotations

from runtree.nodes.builder import NodeBuilder
from runtree.nodes.details import DebugDetails, LatencyDetails
from runtree.nodes.function import FunctionNode, function_node, tool_from_function
from runtree.nodes.node import Node, ToolCallable
from runtree.nodes.state import NodeState
from runtree.nodes.validation import create_node, resolve_node

__all__ = [
    "DebugDetails",
    "FunctionNode",
    "LatencyDetails",
    "Node",
    "NodeBuilder",
    "NodeState",
    "ToolCallable",
    "create_node",
    "function_node",
    "resolve_node",
    "tool_from_function",
]
