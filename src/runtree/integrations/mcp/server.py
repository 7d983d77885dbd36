"""``create_mcp_server``: serve runtree nodes as the tools of an MCP server.

Any node with a tool description can be served: a function node, a plain function (wrapped
with ``rt.function_node``), a node class with ``tool_info()``, an agent. Each tool call is a
request of the server's run, so it is journaled and shows in ``runtree show`` like any
other; nested calls the node makes appear beneath it.

The run is one :class:`~runtree.runtime.Session` for as long as the server serves (one
server process for stdio; one HTTP server), journaled by default like any run. Pass
``session=`` a function that makes the session to choose its options, e.g.
``session=lambda: rt.Session(name="tools", store=None)`` for no journal.

A call whose arguments do not fit the tool's schema is answered with a tool error (the
model can correct itself); an unknown tool name is a protocol error; a node that raises
answers with a tool error ``"ExceptionType: message"``; a call the client cancels is
cancelled in the run. Results travel as ``structuredContent = {"result": <value>}`` (the
output schema says so) plus the value as text (JSON unless it is a string).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import json
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

import mcp_types
import uvicorn
from jsonschema import Draft202012Validator
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError

from runtree._json import to_jsonable
from runtree.errors import ConfigurationError, ToolDefinitionError
from runtree.integrations.mcp.schema import RESULT_KEY, WRAPPED_OUTPUT_SCHEMA, one_line
from runtree.interaction.call import call
from runtree.llm.tools import Tool
from runtree.nodes.node import Node, ToolCallable
from runtree.nodes.validation import resolve_node
from runtree.runtime.session import Session

__all__ = ["MCPToolServer", "create_mcp_server"]

TRANSPORTS = ("stdio", "streamable-http")


def create_mcp_server(
    nodes: Iterable[Any],
    *,
    server_name: str = "runtree",
    instructions: str | None = None,
    session: Callable[[], Session] | None = None,
) -> MCPToolServer:
    """An MCP server whose tools are ``nodes`` (node classes with ``tool_info()``, function
    nodes, plain functions). Serve it with ``.run()`` (stdio) or
    ``.run("streamable-http", port=...)``; see :class:`MCPToolServer`."""
    return MCPToolServer(nodes, server_name=server_name, instructions=instructions, session=session)


@dataclasses.dataclass(frozen=True, slots=True)
class _Served:
    tool: Tool
    target: type[Node[Any]]
    validator: Draft202012Validator

    def problem(self, arguments: Mapping[str, Any]) -> str | None:
        """Why ``arguments`` do not fit the tool (one line), or ``None``."""
        errors = sorted(self.validator.iter_errors(arguments), key=lambda e: list(e.path))
        if not errors:
            return None
        error = errors[0]
        where = "/".join(str(part) for part in error.absolute_path)
        at = f" (at {where})" if where else ""
        return f"invalid arguments: {one_line(error.message)}{at}"


@dataclasses.dataclass(frozen=True, slots=True)
class _Run:
    """What the server's lifespan hands every tool call: the run and its context."""

    session: Session
    context: contextvars.Context


class MCPToolServer:
    """An MCP server made of runtree nodes (see the module docstring).

    ``lowlevel`` is the ``mcp`` ``Server``: mount ``lowlevel.streamable_http_app()`` in your
    own ASGI app, or pass the ``MCPToolServer`` itself to ``rt.connect_mcp`` to use it in
    this process.
    """

    def __init__(
        self,
        nodes: Iterable[Any],
        *,
        server_name: str = "runtree",
        instructions: str | None = None,
        session: Callable[[], Session] | None = None,
    ) -> None:
        if isinstance(nodes, (str, bytes)) or not isinstance(nodes, Iterable):
            raise ConfigurationError(f"create_mcp_server needs a list of nodes, got {nodes!r}")
        if session is not None and not callable(session):
            raise ConfigurationError(
                f"session must be a function that makes a Session, got {session!r}"
            )
        self.name = server_name
        self._make_session = session or (lambda: Session(name=f"mcp-server {server_name}"))
        self._served: dict[str, _Served] = {}
        for node in nodes:
            node_class = resolve_node(node)
            tool = node_class.tool_info()
            if tool.name in self._served:
                raise ToolDefinitionError(
                    f"create_mcp_server: two nodes are called {tool.name!r}; tool names must "
                    "be unique (override name() or tool_info() of one of them)"
                )
            self._served[tool.name] = _Served(
                tool, _call_target(node_class), Draft202012Validator(tool.to_json_schema())
            )
        if not self._served:
            raise ConfigurationError("create_mcp_server needs at least one node")
        self._listing = mcp_types.ListToolsResult(
            tools=[
                mcp_types.Tool(
                    name=served.tool.name,
                    description=served.tool.description,
                    input_schema=served.tool.to_json_schema(),
                    output_schema=WRAPPED_OUTPUT_SCHEMA,
                )
                for served in self._served.values()
            ]
        )
        self.lowlevel: Server[_Run] = Server(
            server_name,
            instructions=instructions,
            lifespan=self._lifespan,
            get_tool_input_schema=self._input_schema,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )

    @property
    def tools(self) -> list[Tool]:
        """The tools served, as runtree tool descriptions."""
        return [served.tool for served in self._served.values()]

    # -- serving -------------------------------------------------------------------------------

    def run(
        self,
        transport: str = "stdio",
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        path: str = "/mcp",
    ) -> None:
        """Serve until stopped (blocking). ``"stdio"``: MCP over standard input/output, until
        the client closes it. ``"streamable-http"``: on ``http://host:port/path``; binds
        127.0.0.1 unless told otherwise (``port=0`` picks a free port); prints
        ``... ready at <url>`` on standard output once it accepts connections; stops on
        SIGINT/SIGTERM."""
        if transport == "stdio":
            asyncio.run(self.serve_stdio())
        elif transport == "streamable-http":
            asyncio.run(self.serve_http(host=host, port=port, path=path, on_ready=self._announce))
        else:
            raise ConfigurationError(
                f"unknown MCP transport {transport!r}; use one of {list(TRANSPORTS)}"
            )

    def _announce(self, url: str) -> None:
        print(f"runtree MCP server {self.name!r} ready at {url}", flush=True)

    async def serve_stdio(self) -> None:
        """Serve over this process's standard input and output until the input closes."""
        from mcp.server.stdio import stdio_server

        async with stdio_server() as (read, write):
            await self.lowlevel.run(read, write, self.lowlevel.create_initialization_options())

    async def serve_http(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        path: str = "/mcp",
        on_ready: Callable[[str], None] | None = None,
    ) -> None:
        """Serve streamable HTTP on ``host:port`` until the process is told to stop;
        ``on_ready(url)`` is called once connections are accepted."""
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigurationError(f"port must be an int in 0..65535, got {port!r}")
        app = self.lowlevel.streamable_http_app(streamable_http_path=path, host=host)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP, so that asyncio sets TCP_NODELAY on accepted connections
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            bound = sock.getsockname()[1]
            shown = f"[{host}]" if family == socket.AF_INET6 else host
            url = f"http://{shown}:{bound}{path}"
            config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
            server = _ReadyServer(config, lambda: on_ready(url) if on_ready else None)
            await server.serve(sockets=[sock])
        finally:
            sock.close()

    # -- the protocol --------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _lifespan(self, _server: Server[_Run]) -> AsyncIterator[_Run]:
        async with self._make_session() as session:
            yield _Run(session, contextvars.copy_context())

    def _input_schema(self, name: str) -> dict[str, Any] | None:
        served = self._served.get(name)
        return served.tool.to_json_schema() if served is not None else None

    async def _list_tools(
        self, ctx: ServerRequestContext[_Run], params: mcp_types.PaginatedRequestParams | None
    ) -> mcp_types.ListToolsResult:
        return self._listing

    async def _call_tool(
        self, ctx: ServerRequestContext[_Run], params: mcp_types.CallToolRequestParams
    ) -> mcp_types.CallToolResult:
        served = self._served.get(params.name)
        if served is None:
            raise MCPError(
                code=mcp_types.INVALID_PARAMS,
                message=f"unknown tool {params.name!r}; this server has {sorted(self._served)}",
            )
        arguments = params.arguments or {}
        problem = served.problem(arguments)
        if problem is not None:
            return _error(problem)
        # The call runs in the run's context (its session), whichever task serves the request.
        task = ctx.lifespan_context.context.run(
            asyncio.ensure_future, call(served.target, **arguments)
        )
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:  # the client cancelled the call (or it timed out)
            task.cancel()
            raise
        if task.cancelled():
            return _error(f"the call of tool {params.name!r} was cancelled on the server")
        error = task.exception()
        if error is not None:
            return _error(f"{type(error).__name__}: {one_line(str(error))}")
        value = to_jsonable(task.result())
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return mcp_types.CallToolResult(
            content=[mcp_types.TextContent(type="text", text=text)],
            structured_content={RESULT_KEY: value},
        )


def _error(message: str) -> mcp_types.CallToolResult:
    return mcp_types.CallToolResult(
        content=[mcp_types.TextContent(type="text", text=message)], is_error=True
    )


def _call_target(node_class: type[Node[Any]]) -> type[Node[Any]]:
    """What ``rt.call`` gets for a tool call: the class itself, or, when it builds itself
    from tool arguments in its own way (``prepare_tool``), a subclass whose construction
    goes through ``prepare_tool``."""
    prepare = getattr(node_class.prepare_tool, "__func__", None)
    if prepare is ToolCallable.prepare_tool.__func__:  # type: ignore[attr-defined]
        return node_class

    def __new__(cls: type[Node[Any]], **params: Any) -> Node[Any]:
        return node_class.prepare_tool(params)

    namespace = {
        "__new__": __new__,
        "__module__": node_class.__module__,
        "__qualname__": node_class.__qualname__,
        "__doc__": node_class.__doc__,
    }
    return type(node_class.__name__, (node_class,), namespace)


class _ReadyServer(uvicorn.Server):
    """A uvicorn server that says when it accepts connections."""

    def __init__(self, config: uvicorn.Config, ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            self._ready()
