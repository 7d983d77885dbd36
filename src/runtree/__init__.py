"""runtree: composable async nodes for LLM agents and workflows.

Every call of a node is a request in a run tree that can be watched while it runs,
inspected afterwards and executed in the event loop, in threads or in processes without
changing the node. Conventional import: ``import runtree as rt``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import runtree.policy as _policy_package  # (cheap: its names load on first use)
from runtree._lazy import lazy_exports
from runtree.errors import (
    CallDepthError,
    ConfigurationError,
    ContextError,
    ExecutionError,
    FatalError,
    ModelError,
    NodeDefinitionError,
    NodeInvocationError,
    NodeStateError,
    NodeTimeoutError,
    RemoteError,
    RunEndedError,
    RuntreeError,
    SessionStateError,
    SessionTimeoutError,
    StructuredOutputError,
    ToolDefinitionError,
    UsageLimitExceeded,
)

if TYPE_CHECKING:
    from runtree import (
        comm,
        context,
        execution,
        graph,
        integrations,
        interaction,
        llm,
        nodes,
        pubsub,
        runtime,
        state,
        store,
        testing,
    )
    from runtree.context.central import execution_mode
    from runtree.context.policy import policy
    from runtree.integrations.mcp import (
        MCPHttpParams,
        MCPStdioParams,
        connect_mcp,
        create_mcp_server,
    )
    from runtree.interaction.batch import call_batch
    from runtree.interaction.call import call, call_sync
    from runtree.interaction.flow import Flow, session
    from runtree.interaction.stream import RunStream, broadcast, stream
    from runtree.llm.agent import (
        StructuredLLM,
        StructuredToolCallLLM,
        TerminalLLM,
        ToolCallLLM,
        ToolManifest,
        agent_node,
    )
    from runtree.nodes import Node, NodeBuilder, NodeState, ToolCallable, function_node
    from runtree.policy import CachePolicy, Policy, RetryPolicy
    from runtree.runtime import ExecutorConfig, Session
    from runtree.state import ExecutionInfo
    from runtree.state.config import set_config
    from runtree.store import RunStore, SqliteRunStore

# Loaded on first use (PEP 562), so `import runtree` stays cheap: module -> names.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "context.central": ("execution_mode",),
    # importing these needs no `mcp`; connecting or serving does (the `mcp` extra)
    "integrations.mcp": ("MCPHttpParams", "MCPStdioParams", "connect_mcp", "create_mcp_server"),
    "interaction": ("RunStream", "broadcast", "call", "call_batch", "call_sync", "stream"),
    "interaction.flow": ("Flow", "session"),
    "llm.agent": (
        "StructuredLLM",
        "StructuredToolCallLLM",
        "TerminalLLM",
        "ToolCallLLM",
        "ToolManifest",
        "agent_node",
    ),
    "nodes": ("Node", "NodeBuilder", "NodeState", "ToolCallable", "function_node"),
    "policy": ("CachePolicy", "Policy", "RetryPolicy"),
    "runtime": ("ExecutorConfig", "Session"),
    "state": ("ExecutionInfo",),
    "state.config": ("set_config",),
    "store": ("RunStore", "SqliteRunStore"),
}
_SUBPACKAGES = (
    "comm",
    "context",
    "errors",
    "execution",
    "graph",
    "integrations",
    "interaction",
    "llm",
    "nodes",
    "policy",
    "pubsub",
    "runtime",
    "state",
    "store",
    "testing",
)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), subpackages=_SUBPACKAGES)


class _PolicyEntry:
    """``rt.policy``: call it for a per-call policy (``with rt.policy(retry=3): ...``, see
    :func:`runtree.context.policy.policy`); its attributes are those of the
    :mod:`runtree.policy` package (``rt.policy.RetryPolicy``). One name, both uses: the
    package is imported first, so importing it again never replaces this."""

    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from runtree.context.policy import policy

        return policy(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(_policy_package, name)

    def __dir__(self) -> list[str]:
        return dir(_policy_package)

    def __repr__(self) -> str:
        return "<rt.policy: per-call policies; the runtree.policy package>"


if not TYPE_CHECKING:
    policy = _PolicyEntry()

__version__ = "0.1.0"

__all__ = [
    "CachePolicy",
    "CallDepthError",
    "ConfigurationError",
    "ContextError",
    "ExecutionError",
    "ExecutionInfo",
    "ExecutorConfig",
    "FatalError",
    "Flow",
    "MCPHttpParams",
    "MCPStdioParams",
    "ModelError",
    "Node",
    "NodeBuilder",
    "NodeDefinitionError",
    "NodeInvocationError",
    "NodeState",
    "NodeStateError",
    "NodeTimeoutError",
    "Policy",
    "RemoteError",
    "RetryPolicy",
    "RunEndedError",
    "RunStore",
    "RunStream",
    "RuntreeError",
    "Session",
    "SessionStateError",
    "SessionTimeoutError",
    "SqliteRunStore",
    "StructuredLLM",
    "StructuredOutputError",
    "StructuredToolCallLLM",
    "TerminalLLM",
    "ToolCallLLM",
    "ToolCallable",
    "ToolDefinitionError",
    "ToolManifest",
    "UsageLimitExceeded",
    "__version__",
    "agent_node",
    "broadcast",
    "call",
    "call_batch",
    "call_sync",
    "comm",
    "connect_mcp",
    "context",
    "create_mcp_server",
    "errors",
    "execution",
    "execution_mode",
    "function_node",
    "graph",
    "integrations",
    "interaction",
    "llm",
    "nodes",
    "policy",
    "pubsub",
    "runtime",
    "session",
    "set_config",
    "state",
    "store",
    "stream",
    "testing",
]
