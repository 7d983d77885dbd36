"""``connect_mcp``: an MCP server's tools as runtree tool nodes, over one long-lived session.

A :class:`MCPConnection` holds one MCP session (one server process for stdio, one HTTP
session for streamable HTTP) for as long as it is open; every tool call of every run that
uses its tools goes over that session. When it closes:

* ``with rt.connect_mcp(...) as server:`` / ``async with ...``: at the end of the block;
* opened while a session is open (``with rt.Session(): server = rt.connect_mcp(...)``):
  when that session closes, as a resource of the run;
* opened outside any session (e.g. at import time, to share between runs): by
  ``close()``/``await aclose()``, or at interpreter exit. A connection garbage-collected
  while open is closed with a ``ResourceWarning``, like an unclosed file.

``connect_mcp`` opens the connection right away unless an event loop is running in this
thread (it would block it); there, open it with ``async with`` or ``await aopen()``.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import dataclasses
import threading
import warnings
import weakref
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from runtree.context.central import current_session
from runtree.errors import ContextError, SessionStateError
from runtree.integrations.mcp.errors import MCPConnectionError
from runtree.integrations.mcp.params import (
    DEFAULT_TIMEOUT,
    MCPHttpParams,
    MCPStdioParams,
    Timeout,
    seconds,
)
from runtree.integrations.mcp.schema import one_line
from runtree.integrations.mcp.tool_node import MCPToolNode, tool_node_class

if TYPE_CHECKING:
    from typing_extensions import Self

    from runtree.integrations.mcp._runner import Runner

__all__ = ["DEFAULT_OPEN_TIMEOUT", "MCPConnection", "MCPConnectionStatistics", "connect_mcp"]

#: seconds starting a server and listing its tools may take by default
DEFAULT_OPEN_TIMEOUT = 60.0

_UNSET: Any = object()
_open_runners: weakref.WeakSet[Runner] = weakref.WeakSet()
_atexit_lock = threading.Lock()
_atexit_registered = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MCPConnectionStatistics:
    """What went over a connection: tool calls made, and how many failed (the tool said so,
    or the connection went away), timed out or were cancelled; calls still waiting; and
    how long opening took (starting the server, the handshake, listing the tools)."""

    calls: int
    failed: int
    timed_out: int
    cancelled: int
    in_flight: int
    open_seconds: float | None


def connect_mcp(
    server: Any, *, timeout: Timeout = _UNSET, open_timeout: Timeout = DEFAULT_OPEN_TIMEOUT
) -> MCPConnection:
    """Connect to an MCP server and make its tools runtree tool nodes (``.tools``).

    ``server`` is :class:`MCPStdioParams` (start a command), :class:`MCPHttpParams` (a
    streamable HTTP URL), or a server object in this process (what
    :func:`create_mcp_server` returns, or an ``mcp`` ``Server``/``MCPServer``).
    ``timeout`` (seconds) bounds each tool call, by default the params' ``timeout`` (30 s);
    ``open_timeout`` bounds starting the server and listing its tools (60 s). See the module
    docstring for when the connection closes.
    """
    connection = MCPConnection(server, timeout=timeout, open_timeout=open_timeout)
    if _loop_running():
        return connection  # opened by `async with` or `await connection.aopen()`
    return connection.open()


class MCPConnection:
    """One MCP session and the tool nodes of its server. States: ``unopened``, ``open``,
    ``lost`` (the server went away), ``closed``. Use :func:`connect_mcp` to make one."""

    def __init__(
        self,
        server: Any,
        *,
        timeout: Timeout = _UNSET,
        open_timeout: Timeout = DEFAULT_OPEN_TIMEOUT,
    ) -> None:
        from runtree.integrations.mcp import require_mcp

        require_mcp()
        if isinstance(server, (MCPStdioParams, MCPHttpParams)):
            target: Any = server
            self.label = (
                f"`{server.describe()}`" if isinstance(server, MCPStdioParams) else server.url
            )
            self.transport: str | None = "pipe" if isinstance(server, MCPStdioParams) else "tcp"
            default: Timeout = server.timeout
        else:
            target = _in_process_target(server)
            self.label = f"in-process server {getattr(target, 'name', '?')!r}"
            self.transport = None
            default = DEFAULT_TIMEOUT
        #: what this connects to
        self.server = server
        #: seconds a tool call may take (``None``: no limit)
        self.timeout = seconds(default if timeout is _UNSET else timeout, what="timeout")
        #: seconds opening may take (``None``: no limit)
        self.open_timeout = seconds(open_timeout, what="open_timeout")
        self._target = target
        self._status = "unopened"
        self._runner: Runner | None = None
        self._tools: dict[str, type[MCPToolNode]] = {}
        self._finalizer: weakref.finalize[Any, Any] | None = None

    # -- state ---------------------------------------------------------------------------------

    @property
    def status(self) -> str:
        """``"unopened"``, ``"open"``, ``"lost"`` or ``"closed"``."""
        runner = self._runner
        if self._status == "open" and runner is not None and (runner.lost or not runner.alive):
            return "lost"
        return self._status

    @property
    def tools(self) -> list[type[MCPToolNode]]:
        """The server's tools as node classes, in the order the server listed them."""
        self._require_opened()
        return list(self._tools.values())

    def tool(self, name: str) -> type[MCPToolNode]:
        """The node class of the tool called ``name`` on the server."""
        self._require_opened()
        try:
            return self._tools[name]
        except KeyError:
            raise MCPConnectionError(
                f"MCP server {self.label} has no tool {name!r}; it has {sorted(self._tools)}",
                tool=name,
            ) from None

    def statistics(self) -> MCPConnectionStatistics:
        runner = self._runner
        if runner is None:
            return MCPConnectionStatistics(
                calls=0, failed=0, timed_out=0, cancelled=0, in_flight=0, open_seconds=None
            )
        return MCPConnectionStatistics(
            calls=runner.calls,
            failed=runner.failed,
            timed_out=runner.timed_out,
            cancelled=runner.cancelled,
            in_flight=runner.in_flight,
            open_seconds=runner.open_seconds,
        )

    def _require_opened(self) -> None:
        if self._status == "unopened":
            raise SessionStateError(
                f"the MCP connection to {self.label} is not open yet; in async code open it "
                "with `async with rt.connect_mcp(...) as server:` or `await server.aopen()`"
            )

    # -- opening -------------------------------------------------------------------------------

    def open(self) -> Self:
        """Start the session and list the tools, blocking until done (sync code)."""
        if _loop_running():
            raise ContextError(
                "MCPConnection.open() would block the running event loop; use "
                "`await connection.aopen()` or `async with`"
            )
        runner = self._start()
        try:
            listed = runner.opened.result(timeout=self.open_timeout)
        except BaseException as exc:
            runner.stop()
            runner.join()
            raise self._open_error(exc) from exc
        return self._opened(listed)

    async def aopen(self) -> Self:
        """Start the session and list the tools (async code)."""
        runner = self._start()
        try:
            listed = await asyncio.wait_for(asyncio.wrap_future(runner.opened), self.open_timeout)
        except BaseException as exc:
            runner.stop()
            await asyncio.to_thread(runner.join)
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise self._open_error(exc) from exc
        return self._opened(listed)

    def _start(self) -> Runner:
        if self._status != "unopened":
            raise SessionStateError(
                f"the MCP connection to {self.label} is {self.status}; open it only once"
            )
        from runtree.integrations.mcp._runner import Runner

        runner = Runner(self._target, label=self.label)
        self._runner = runner
        self._status = "opening"
        _track(runner)
        runner.start()
        return runner

    def _open_error(self, exc: BaseException) -> MCPConnectionError:
        self._status = "closed"
        if isinstance(exc, (TimeoutError, asyncio.TimeoutError, concurrent.futures.TimeoutError)):
            reason = f"no answer within {self.open_timeout:g}s"
        elif isinstance(exc, MCPConnectionError):
            return exc
        else:
            reason = _reason(exc)
        return MCPConnectionError(f"could not connect to MCP server {self.label}: {reason}")

    def _opened(self, listed: list[Any]) -> Self:
        for tool in listed:
            self._tools[tool.name] = tool_node_class(
                self,
                name=tool.name,
                description=tool.description,
                input_schema=tool.input_schema,
                output_schema=tool.output_schema,
            )
        self._status = "open"
        assert self._runner is not None
        self._finalizer = weakref.finalize(self, _collected, self._runner, self.label)
        self._finalizer.atexit = False
        session = current_session.get()
        if session is not None:
            session.on_close(self.aclose)
        return self

    # -- calling -------------------------------------------------------------------------------

    async def call_tool(
        self, name: str, arguments: Mapping[str, Any] | None = None, *, timeout: Timeout = _UNSET
    ) -> Any:
        """Call tool ``name`` once and return its result as plain data.

        A structured result comes back as it is (unwrapped from ``{"result": ...}`` when the
        tool's output schema wraps it), a single text block as its text, several blocks as
        a list of JSON objects. Raises :class:`MCPToolError` when the server reports an
        error, :class:`MCPTimeoutError` past the timeout, :class:`MCPConnectionError` when
        the connection is closed or lost. This is not a request of the run: call the tool
        nodes (``.tools``) for that.
        """
        self._require_opened()
        runner = self._runner
        assert runner is not None
        limit = self.timeout if timeout is _UNSET else seconds(timeout, what="timeout")
        if self._status != "open" or runner.lost is not None or not runner.alive:
            raise runner.closed_error(name)
        future = runner.submit(runner.call(name, dict(arguments or {}), limit))
        return await asyncio.wrap_future(future)

    # -- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the session (for stdio, the server process exits) and wait for it."""
        if _loop_running():
            raise ContextError(
                "MCPConnection.close() would block the running event loop; use "
                "`await connection.aclose()`"
            )
        runner = self._begin_close()
        if runner is not None:
            runner.join()

    async def aclose(self) -> None:
        """Close the session (for stdio, the server process exits) and wait for it."""
        runner = self._begin_close()
        if runner is not None:
            await asyncio.to_thread(runner.join)

    def _begin_close(self) -> Runner | None:
        if self._status == "closed":
            return None
        self._status = "closed"
        if self._finalizer is not None:
            self._finalizer.detach()
        runner = self._runner
        if runner is not None:
            runner.stop()
        return runner

    def __enter__(self) -> Self:
        return self if self._status != "unopened" else self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self if self._status != "unopened" else await self.aopen()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<MCPConnection {self.label} {self.status}, {len(self._tools)} tools>"


def _in_process_target(server: Any) -> Any:
    from mcp.server import MCPServer, Server

    lowlevel = getattr(server, "lowlevel", None)  # a runtree MCPToolServer
    if isinstance(lowlevel, Server):
        return lowlevel
    if isinstance(server, (Server, MCPServer)):
        return server
    raise MCPConnectionError(
        f"connect_mcp needs MCPStdioParams, MCPHttpParams or an in-process MCP server, "
        f"got {type(server).__name__}"
    )


def _reason(exc: BaseException) -> str:
    """The most telling one-line reason inside ``exc`` (exception groups included)."""
    inner = getattr(exc, "exceptions", None)  # an exception group: its first member tells
    while isinstance(inner, tuple) and inner and isinstance(inner[0], BaseException):
        exc = inner[0]
        inner = getattr(exc, "exceptions", None)
    text = one_line(str(exc), limit=300)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _track(runner: Runner) -> None:
    global _atexit_registered
    with _atexit_lock:
        _open_runners.add(runner)
        if not _atexit_registered:
            atexit.register(_close_all)
            _atexit_registered = True


def _close_all() -> None:
    """At interpreter exit: close what is still open, so no server is left behind."""
    runners = list(_open_runners)
    for runner in runners:
        runner.stop()
    for runner in runners:
        runner.join(5.0)


def _collected(runner: Runner, label: str) -> None:
    warnings.warn(
        f"MCP connection to {label} was garbage-collected while open; close it (use "
        "`with rt.connect_mcp(...)` or open it inside a session)",
        ResourceWarning,
        stacklevel=2,
    )
    runner.stop()
