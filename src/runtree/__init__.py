"""runtree: composable async nodes for LLM agents and workflows.

Every call of a node is a request in a run tree that can be watched while it runs,
inspected afterwards and executed in the event loop, in threads or in processes without
changing the node. Conventional import: ``import runtree as rt``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from runtree.errors import (
    ConfigurationError,
    ContextError,
    ExecutionError,
    NodeDefinitionError,
    NodeInvocationError,
    NodeStateError,
    RemoteError,
    RunEndedError,
    RuntreeError,
    SessionStateError,
    SessionTimeoutError,
    ToolDefinitionError,
)

if TYPE_CHECKING:
    from runtree import (
        comm,
        context,
        execution,
        graph,
        interaction,
        nodes,
        pubsub,
        session,
        state,
        store,
    )
    from runtree.context.central import execution_mode
    from runtree.interaction.batch import call_batch
    from runtree.interaction.call import call, call_sync
    from runtree.interaction.stream import broadcast
    from runtree.nodes import Node, NodeBuilder, NodeState, ToolCallable, function_node
    from runtree.session import ExecutorConfig, Session
    from runtree.state import ExecutionInfo
    from runtree.store import RunStore, SqliteRunStore

# Loaded on first use (PEP 562), so `import runtree` stays cheap: name -> defining module.
_LAZY: dict[str, str] = {
    "ExecutionInfo": "runtree.state",
    "ExecutorConfig": "runtree.session",
    "Node": "runtree.nodes",
    "NodeBuilder": "runtree.nodes",
    "NodeState": "runtree.nodes",
    "RunStore": "runtree.store",
    "Session": "runtree.session",
    "SqliteRunStore": "runtree.store",
    "ToolCallable": "runtree.nodes",
    "broadcast": "runtree.interaction",
    "call": "runtree.interaction",
    "call_batch": "runtree.interaction",
    "call_sync": "runtree.interaction",
    "execution_mode": "runtree.context.central",
    "function_node": "runtree.nodes",
}
_SUBPACKAGES = (
    "comm",
    "context",
    "errors",
    "execution",
    "graph",
    "interaction",
    "nodes",
    "pubsub",
    "session",
    "state",
    "store",
)


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"runtree.{name}")
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'runtree' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__version__ = "0.1.0"

__all__ = [
    "ConfigurationError",
    "ContextError",
    "ExecutionError",
    "ExecutionInfo",
    "ExecutorConfig",
    "Node",
    "NodeBuilder",
    "NodeDefinitionError",
    "NodeInvocationError",
    "NodeState",
    "NodeStateError",
    "RemoteError",
    "RunEndedError",
    "RunStore",
    "RuntreeError",
    "Session",
    "SessionStateError",
    "SessionTimeoutError",
    "SqliteRunStore",
    "ToolCallable",
    "ToolDefinitionError",
    "__version__",
    "broadcast",
    "call",
    "call_batch",
    "call_sync",
    "comm",
    "context",
    "errors",
    "execution",
    "execution_mode",
    "function_node",
    "graph",
    "interaction",
    "nodes",
    "pubsub",
    "session",
    "state",
    "store",
]
