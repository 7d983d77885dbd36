"""Where railtracks code imports its node base class from (``runtree.nodes.nodes.Node``).

Aliases only; the classes live in :mod:`runtree.nodes`.
"""

from __future__ import annotations

from runtree.nodes.details import DebugDetails, LatencyDetails
from runtree.nodes.node import Node
from runtree.nodes.state import NodeState

__all__ = ["DebugDetails", "LatencyDetails", "Node", "NodeState"]
