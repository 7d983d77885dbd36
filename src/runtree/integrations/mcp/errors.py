"""Errors of the MCP integration, under :class:`runtree.errors.RuntreeError`::

    RuntreeError
    ├── MCPConnectionError (ConnectionError)  the server could not be reached, or went away
    ├── MCPToolError (RuntimeError)           the server answered a tool call with an error
    └── MCPTimeoutError (TimeoutError)        a tool call got no answer in time

Each carries the name of the tool (``tool``, ``None`` when no tool call was involved) and
pickles with it.
"""

from __future__ import annotations

from runtree.errors import RuntreeError

__all__ = ["MCPConnectionError", "MCPTimeoutError", "MCPToolError"]


class _MCPError(RuntreeError):
    def __init__(self, message: str, *, tool: str | None = None) -> None:
        super().__init__(message)
        self.tool = tool


class MCPConnectionError(_MCPError, ConnectionError):
    """The MCP server could not be started or reached, or the connection was lost or closed."""


class MCPToolError(_MCPError, RuntimeError):
    """The MCP server answered a tool call with an error (the tool failed, is unknown, or
    rejected its arguments). The message names the tool and gives the server's text."""


class MCPTimeoutError(_MCPError, TimeoutError):
    """A tool call got no answer within its timeout; the server was told to cancel it."""
