"""Node classes for the tools of an MCP server.

:meth:`MCPConnection.tools <runtree.integrations.mcp.MCPConnection.tools>` makes one
subclass of :class:`MCPToolNode` per tool. Calling one (``await rt.call(add, a=2, b=3)``,
or an agent calling it as a tool) is an ordinary request of the run: journaled, replayed on
resume, shown in the run tree. Its ``invoke`` sends one ``tools/call`` over the
connection's session.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from runtree.errors import NodeInvocationError
from runtree.integrations.mcp.schema import parameters_from_schema
from runtree.llm.tools import Tool
from runtree.nodes.node import Node

if TYPE_CHECKING:
    from typing_extensions import Self

    from runtree.integrations.mcp.connection import MCPConnection

__all__ = ["MCPToolNode", "tool_node_class"]


class MCPToolNode(Node[Any]):
    """Base of the node classes made for the tools of an MCP server.

    Built with the tool's arguments by keyword (``add(a=2, b=3)``); names are checked
    against the tool's input schema before anything is sent. Runs on the ``"async"``
    strategy whatever the session's default: the call waits on the connection, it does not
    compute.

    Class attributes: ``connection`` (the :class:`MCPConnection`), ``mcp_name`` (the
    tool's name on the server), ``input_schema`` and ``output_schema`` (as the server
    declared them).
    """

    execution_mode: ClassVar[str | None] = "async"
    connection: ClassVar[MCPConnection]
    mcp_name: ClassVar[str]
    input_schema: ClassVar[dict[str, Any]]
    output_schema: ClassVar[dict[str, Any] | None]
    _tool: ClassVar[Tool]
    #: parameter name -> argument name on the server (they differ for non-identifiers)
    _names: ClassVar[dict[str, str]]
    _required: ClassVar[frozenset[str]]

    def __init__(self, *args: Any, **arguments: Any) -> None:
        cls = type(self)
        if args:
            raise NodeInvocationError(
                f"MCP tool {cls.mcp_name!r} takes keyword arguments only, got {len(args)} "
                f"positional; call it as rt.call(tool, {', '.join(f'{n}=...' for n in cls._names)})"
            )
        unknown = sorted(set(arguments) - set(cls._names))
        if unknown:
            raise NodeInvocationError(
                f"MCP tool {cls.mcp_name!r}: unexpected argument(s) {unknown}; "
                f"it takes {sorted(cls._names)}"
            )
        missing = sorted(cls._required - set(arguments))
        if missing:
            raise NodeInvocationError(
                f"MCP tool {cls.mcp_name!r}: missing required argument(s) {missing}"
            )
        super().__init__()
        #: the arguments as the server names them
        self.arguments = {cls._names[key]: value for key, value in arguments.items()}

    @classmethod
    def name(cls) -> str:
        return cls.mcp_name

    @classmethod
    def tool_info(cls) -> Tool:
        return cls._tool

    @classmethod
    def prepare_tool(cls, params: Mapping[str, Any]) -> Self:
        if not isinstance(params, Mapping):
            raise NodeInvocationError(
                f"MCP tool {cls.mcp_name!r}: arguments must be a mapping, "
                f"got {type(params).__name__}"
            )
        return cls(**params)

    async def invoke(self) -> Any:
        cls = type(self)
        attributes = self.details.setdefault("attributes", {})
        attributes.update(
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": cls.mcp_name,
                "runtree.kind": "tool",
                "mcp.method.name": "tools/call",
            }
        )
        transport = cls.connection.transport
        if transport is not None:
            attributes["network.transport"] = transport
        return await cls.connection.call_tool(cls.mcp_name, self.arguments)


def tool_node_class(
    connection: MCPConnection,
    *,
    name: str,
    description: str | None,
    input_schema: Mapping[str, Any],
    output_schema: Mapping[str, Any] | None,
) -> type[MCPToolNode]:
    """A :class:`MCPToolNode` subclass for one tool of ``connection``."""
    parameters, names = parameters_from_schema(input_schema)
    required = frozenset(p.name for p in parameters if p.required)
    tool = Tool(name=name, description=description or name, parameters=parameters)
    class_name = "".join(part.capitalize() for part in names_of(name)) or "Tool"
    namespace: dict[str, Any] = {
        "connection": connection,
        "mcp_name": name,
        "input_schema": dict(input_schema),
        "output_schema": dict(output_schema) if output_schema is not None else None,
        "_tool": tool,
        "_names": names,
        "_required": required,
        "__doc__": description or f"The MCP tool {name!r}.",
        "__module__": __name__,
        "__qualname__": f"MCPTool.{name}",
    }
    return type(f"MCPTool{class_name}", (MCPToolNode,), namespace)


def names_of(name: str) -> list[str]:
    """The word parts of a tool name (``get-weather`` -> ``["get", "weather"]``)."""
    return [part for part in "".join(c if c.isalnum() else " " for c in name).split() if part]
