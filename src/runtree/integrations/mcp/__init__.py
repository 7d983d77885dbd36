"""MCP (Model Context Protocol) for runtree: use an MCP server's tools as nodes, and serve
nodes as an MCP server. Needs the ``mcp`` extra: ``pip install 'runtree[mcp]'``.

* :func:`connect_mcp` (:class:`MCPStdioParams` | :class:`MCPHttpParams` | an in-process
  server) -> :class:`MCPConnection`, whose ``.tools`` are node classes
  (:class:`MCPToolNode`) an agent or ``rt.call`` can use. One MCP session serves every
  call.
* :func:`create_mcp_server` (nodes) -> :class:`MCPToolServer`, served over stdio or
  streamable HTTP; each tool call is a request of the server's run.

The ``mcp`` package is imported only when a connection opens or a server is created.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from runtree._lazy import lazy_exports

if TYPE_CHECKING:
    from runtree.integrations.mcp.connection import (
        MCPConnection,
        MCPConnectionStatistics,
        connect_mcp,
    )
    from runtree.integrations.mcp.errors import MCPConnectionError, MCPTimeoutError, MCPToolError
    from runtree.integrations.mcp.params import MCPHttpParams, MCPStdioParams
    from runtree.integrations.mcp.server import MCPToolServer, create_mcp_server
    from runtree.integrations.mcp.tool_node import MCPToolNode

_EXPORTS: dict[str, tuple[str, ...]] = {
    "connection": ("MCPConnection", "MCPConnectionStatistics", "connect_mcp"),
    "errors": ("MCPConnectionError", "MCPTimeoutError", "MCPToolError"),
    "params": ("MCPHttpParams", "MCPStdioParams"),
    "server": ("MCPToolServer", "create_mcp_server"),
    "tool_node": ("MCPToolNode",),
}

_getattr, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

INSTALL_HINT = "install it with: pip install 'runtree[mcp]'"


def require_mcp() -> None:
    """Import ``mcp``, or raise an ``ImportError`` that says how to install it."""
    try:
        importlib.import_module("mcp")
    except ImportError as exc:
        raise ImportError(
            f"runtree's MCP integration needs the `mcp` package; {INSTALL_HINT}"
        ) from exc


def __getattr__(name: str) -> Any:
    try:
        return _getattr(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.split(".")[0] in ("mcp", "mcp_types", "httpx2"):
            require_mcp()
        raise


__all__ = [
    "MCPConnection",
    "MCPConnectionError",
    "MCPConnectionStatistics",
    "MCPHttpParams",
    "MCPStdioParams",
    "MCPTimeoutError",
    "MCPToolError",
    "MCPToolNode",
    "MCPToolServer",
    "connect_mcp",
    "create_mcp_server",
    "require_mcp",
]
