"""The thread that owns one MCP client session.

The ``mcp`` client is an anyio context manager: it must be entered and left by one task
and lives on one event loop. Runs, though, each have their own loop (``asyncio.run``, a
sync session's private loop, worker threads), and one MCP session serves them all. So the
client lives in a thread of its own, on a loop of its own, in one task that enters it, lists
the tools, waits until asked to close, and leaves it. Tool calls are sent to that loop;
cancelling the caller cancels the call there, and the ``mcp`` client then tells the server
(``notifications/cancelled``).

Internal: :mod:`runtree.integrations.mcp.connection` is the public face.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import threading
import time
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

import anyio
import httpx2
import mcp_types
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from runtree._async import new_loop
from runtree.integrations.mcp.errors import MCPConnectionError, MCPTimeoutError, MCPToolError
from runtree.integrations.mcp.params import MCPHttpParams, MCPStdioParams
from runtree.integrations.mcp.schema import RESULT_KEY, is_wrapped_output, one_line

__all__ = ["Runner"]

logger = logging.getLogger("runtree.mcp")

T = TypeVar("T")

_MAX_PAGES = 100
#: how long closing waits for the server to go away (the ``mcp`` client bounds each step)
_CLOSE_WAIT = 30.0


class Runner:
    """One MCP client session on a private loop in a daemon thread."""

    def __init__(self, target: Any, *, label: str) -> None:
        self.target = target
        self.label = label
        self.loop = new_loop()
        self.opened: concurrent.futures.Future[list[mcp_types.Tool]] = concurrent.futures.Future()
        #: why the session ended without being asked to (the server died, ...)
        self.lost: BaseException | None = None
        #: seconds from starting the thread to the tools being listed
        self.open_seconds: float | None = None
        self.calls = self.failed = self.timed_out = self.cancelled = 0
        self._client: Client | None = None
        self._output_schemas: dict[str, dict[str, Any] | None] = {}
        self._closing: asyncio.Event | None = None
        self._main: asyncio.Task[None] | None = None
        self._close_requested = False
        self._ended = False
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._lock = threading.Lock()
        self._accepting = True
        self._thread = threading.Thread(target=self._run, name=f"runtree-mcp {label}", daemon=True)

    # -- lifetime (any thread) ---------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Open and not ended."""
        return self._client is not None and not self._ended

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coroutine`` on the session's loop."""
        with self._lock:
            if self._accepting:
                return asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        coroutine.close()
        raise self.closed_error(None)

    def stop(self) -> None:
        """Ask the session to close (returns at once; :meth:`join` waits)."""
        with self._lock:
            if self._accepting:
                self.loop.call_soon_threadsafe(self._request_close)

    def join(self, timeout: float | None = _CLOSE_WAIT) -> None:
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("MCP connection to %s did not close within %ss", self.label, timeout)

    def closed_error(self, tool: str | None) -> MCPConnectionError:
        during = f" (tool {tool!r} was not called)" if tool else ""
        lost = self.lost
        if isinstance(lost, MCPConnectionError):
            return MCPConnectionError(f"{lost}{during}", tool=tool)
        if lost is not None:
            reason = one_line(str(lost)) or type(lost).__name__
            return MCPConnectionError(
                f"the connection to MCP server {self.label} was lost: {reason}{during}", tool=tool
            )
        return MCPConnectionError(
            f"the connection to MCP server {self.label} is closed{during}", tool=tool
        )

    # -- on the session's loop ---------------------------------------------------------------

    def _run(self) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        finally:
            with self._lock:
                self._accepting = False
            # Calls submitted while the session ended find no client and fail by themselves.
            pending = asyncio.all_tasks(loop)
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def _request_close(self) -> None:
        self._close_requested = True
        if self._closing is not None and self._client is not None:
            self._closing.set()
        elif self._main is not None:  # still connecting: give up on it
            self._main.cancel()

    async def _serve(self) -> None:
        self._closing = asyncio.Event()
        self._main = asyncio.current_task()
        started = time.perf_counter()
        if self._close_requested:  # closed before the thread got here: do not connect
            self._ended = True
            self.opened.set_exception(
                MCPConnectionError(f"connecting to MCP server {self.label} was abandoned")
            )
            return
        try:
            async with contextlib.AsyncExitStack() as stack:
                client = await stack.enter_async_context(await self._client_for(stack))
                tools = await _list_tools(client)
                self._output_schemas = {tool.name: tool.output_schema for tool in tools}
                self._client = client
                self.open_seconds = time.perf_counter() - started
                self.opened.set_result(tools)
                if self._close_requested:
                    self._closing.set()
                await self._closing.wait()
        except BaseException as exc:  # the thread ends here: nothing above it to tell
            if not self.opened.done():
                if isinstance(exc, asyncio.CancelledError):
                    exc = MCPConnectionError(f"connecting to MCP server {self.label} was abandoned")
                self.opened.set_exception(exc)
            elif self.lost is None and not self._close_requested:
                self.lost = exc
            else:
                logger.debug("closing MCP connection to %s: %r", self.label, exc)
        finally:
            self._ended = True
            self._client = None
            for task in list(self._in_flight):
                task.cancel()

    async def _client_for(self, stack: contextlib.AsyncExitStack) -> Client:
        target = self.target
        if isinstance(target, MCPStdioParams):
            return Client(
                StdioServerParameters(
                    command=target.command,
                    args=list(target.args),
                    env=dict(target.env) if target.env is not None else None,
                    cwd=os.fspath(target.cwd) if target.cwd is not None else None,
                )
            )
        if isinstance(target, MCPHttpParams):
            http = await stack.enter_async_context(
                create_mcp_http_client(
                    headers=dict(target.headers) if target.headers else None,
                    timeout=httpx2.Timeout(30.0, read=300.0),
                )
            )
            return Client(
                streamable_http_client(
                    target.url, http_client=http, terminate_on_close=target.terminate_on_close
                )
            )
        return Client(target)  # an in-process server

    async def call(self, name: str, arguments: Mapping[str, Any], limit: float | None) -> Any:
        """Call tool ``name`` and return its result as plain data (see ``result_value``)."""
        client = self._client
        if client is None or self._ended:
            raise self.closed_error(name)
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        self.calls += 1
        try:
            result = await client.call_tool(name, dict(arguments), read_timeout_seconds=limit)
        except asyncio.CancelledError:
            if self._ended:
                self.failed += 1
                raise self._lost_during(name) from None
            self.cancelled += 1
            raise
        except MCPError as exc:
            self.failed += 1
            raise self._translate(exc, name, limit) from None
        except ValidationError as exc:
            self.failed += 1
            raise MCPToolError(
                f"MCP tool {name!r} sent a result that does not fit the protocol: "
                f"{one_line(str(exc), limit=300)}",
                tool=name,
            ) from None
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, httpx2.HTTPError, OSError):
            self.failed += 1
            raise self._lost_during(name) from None
        finally:
            self._in_flight.discard(task)
        if result.is_error:
            self.failed += 1
            raise MCPToolError(f"MCP tool {name!r} failed: {_error_text(result)}", tool=name)
        return result_value(result, self._output_schemas.get(name))

    def _lost_during(self, name: str) -> MCPConnectionError:
        """The error for a call the connection's end cut short; the session ends with it."""
        if self._close_requested:
            return MCPConnectionError(
                f"the connection to MCP server {self.label} was closed during the call of tool "
                f"{name!r}",
                tool=name,
            )
        error = MCPConnectionError(
            f"the connection to MCP server {self.label} was lost during the call of tool "
            f"{name!r}; the server may have exited",
            tool=name,
        )
        if self.lost is None:
            self.lost = error
            if self._closing is not None:
                self._closing.set()
        return error

    def _translate(self, exc: MCPError, name: str, limit: float | None) -> Exception:
        if exc.code == mcp_types.REQUEST_TIMEOUT:
            self.timed_out += 1
            return MCPTimeoutError(
                f"MCP tool {name!r} did not answer within {limit:g}s; the server was asked "
                "to cancel it",
                tool=name,
            )
        if exc.code == mcp_types.CONNECTION_CLOSED:
            return self._lost_during(name)
        return MCPToolError(f"MCP tool {name!r} failed: {one_line(exc.message)}", tool=name)


async def _list_tools(client: Client) -> list[mcp_types.Tool]:
    tools: list[mcp_types.Tool] = []
    cursor: str | None = None
    for _ in range(_MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


def _error_text(result: mcp_types.CallToolResult) -> str:
    texts = [block.text for block in result.content if isinstance(block, mcp_types.TextContent)]
    return one_line(" ".join(texts)) or "the server gave no details"


def result_value(result: mcp_types.CallToolResult, output_schema: dict[str, Any] | None) -> Any:
    """A tool result as plain JSON data.

    The structured result when there is one (unwrapped from ``{"result": ...}`` when the
    tool's output schema says it is wrapped); else the text of a single text block; else
    ``None`` for no content; else the content blocks as JSON objects (``{"type": "image",
    "data": ..., "mimeType": ...}``, ...).
    """
    structured = result.structured_content
    if structured is not None:
        if (
            isinstance(structured, dict)
            and list(structured) == [RESULT_KEY]
            and is_wrapped_output(output_schema)
        ):
            return structured[RESULT_KEY]
        return structured
    blocks = result.content
    if not blocks:
        return None
    if len(blocks) == 1 and isinstance(blocks[0], mcp_types.TextContent):
        return blocks[0].text
    return [block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in blocks]
