"""connect_mcp in this process (an in-process server: the real protocol objects, no pipes):
tool nodes, values, lifetimes, errors."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer

import runtree as rt
from runtree.integrations.mcp import (
    MCPConnection,
    MCPConnectionError,
    MCPTimeoutError,
    MCPToolError,
    MCPToolNode,
)
from runtree.llm.tools import Parameter
from runtree.store import SqliteRunStore


@rt.function_node
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@rt.function_node
def pair(left: str, right: str = "") -> tuple[str, str]:
    """A tuple comes back as a list (JSON)."""
    return (left, right)


@rt.function_node
def nothing() -> None:
    """Returns None."""


#: the tools TripWithTools uses, and whether it fails after them (set by the resume test)
USE: dict[str, Any] = {}


class TripWithTools(rt.Node[int]):
    """Calls two MCP tools, then fails while USE["fail"] is set."""

    async def invoke(self) -> int:
        total = await rt.call(USE["add"], a=1, b=2)
        total = await rt.call(USE["add"], a=total, b=10)
        if USE["fail"]:
            raise RuntimeError("the step after the tools failed")
        return int(total)


def _server() -> Any:
    return rt.create_mcp_server([add, pair, nothing], session=lambda: rt.Session(store=None))


def test_tools_are_node_classes_with_tool_info() -> None:
    with rt.connect_mcp(_server()) as server:
        assert [t.name() for t in server.tools] == ["add", "pair", "nothing"]
        tool = server.tool("add")
        assert issubclass(tool, MCPToolNode) and tool.execution_mode == "async"
        info = tool.tool_info()
        assert info.name == "add" and info.description == "Add two integers."
        assert info.parameters == (
            Parameter(name="a", type="integer"),
            Parameter(name="b", type="integer"),
        )
        assert tool.prepare_tool({"a": 1, "b": 2}).arguments == {"a": 1, "b": 2}
        assert repr(server) == "<MCPConnection in-process server 'runtree' open, 3 tools>"
        with pytest.raises(MCPConnectionError, match=r"has no tool 'nope'; it has \['add', "):
            server.tool("nope")


async def test_calls_are_requests_of_the_run_with_tool_attributes(tmp_path: Path) -> None:
    async with (
        rt.connect_mcp(_server()) as server,
        rt.Session(name="client", store=tmp_path / "j.db") as session,
    ):
        assert await rt.call(server.tool("add"), a=2, b=3) == 5
        assert await rt.call(server.tool("pair"), left="x") == ["x", ""]
        assert await rt.call(server.tool("nothing")) is None
    records = list(session.info.requests.values())
    assert [(r.node_name, r.kwargs, r.status) for r in records] == [
        ("add", {"a": 2, "b": 3}, "succeeded"),
        ("pair", {"left": "x"}, "succeeded"),
        ("nothing", {}, "succeeded"),
    ]
    reader = SqliteRunStore(tmp_path / "j.db").open()
    try:
        stored = reader.get_requests(session.run_id)
    finally:
        reader.close()
    assert [(r.node_name, r.output) for r in stored] == [
        ("add", 5),
        ("pair", ["x", ""]),
        ("nothing", None),
    ]


def test_a_resumed_run_does_not_call_finished_tools_again(tmp_path: Path) -> None:
    with rt.connect_mcp(_server()) as server:
        USE.update(add=server.tool("add"), fail=True)
        with (
            pytest.raises(RuntimeError, match="after the tools"),
            rt.Session(store=tmp_path / "j.db") as first,
        ):
            rt.call_sync(TripWithTools)
        assert server.statistics().calls == 2
        USE["fail"] = False
        with rt.Session(store=tmp_path / "j.db", resume=first.run_id):
            assert rt.call_sync(TripWithTools) == 13
        assert server.statistics().calls == 2  # both answered from the journal


async def test_invoke_sets_the_tool_call_attributes() -> None:
    async with rt.connect_mcp(_server()) as server:
        node = server.tool("add")(a=1, b=2)
        assert await node.invoke() == 3
    assert node.details["attributes"] == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "add",
        "runtree.kind": "tool",
        "mcp.method.name": "tools/call",
    }


async def test_in_async_code_connect_mcp_does_not_block() -> None:
    server = rt.connect_mcp(_server())
    assert server.status == "unopened"
    with pytest.raises(rt.SessionStateError, match="not open yet; in async code open it with"):
        server.tools  # noqa: B018
    with pytest.raises(rt.ContextError, match="would block the running event loop"):
        server.open()
    async with server:
        assert server.status == "open"
        with pytest.raises(rt.ContextError, match="use `await connection.aclose\\(\\)`"):
            server.close()
        with pytest.raises(rt.SessionStateError, match="open it only once"):
            await server.aopen()
    assert server.status == "closed"


def test_a_connection_opened_in_a_session_closes_with_it() -> None:
    with rt.Session(store=None):
        server = rt.connect_mcp(_server())
        assert rt.call_sync(server.tool("add"), a=1, b=1) == 2
    assert server.status == "closed"
    with rt.Session(store=None), pytest.raises(MCPConnectionError, match="is closed"):
        rt.call_sync(server.tool("add"), a=1, b=1)


def test_a_connection_opened_outside_serves_several_runs() -> None:
    with rt.connect_mcp(_server()) as server:
        for n in range(3):
            assert asyncio.run(rt.call(server.tool("add"), a=n, b=n)) == 2 * n
        with rt.Session(store=None, execution_mode="thread"):
            assert rt.call_sync(server.tool("add"), a=5, b=5) == 10
        assert server.statistics().calls == 4


def test_a_forgotten_open_connection_warns_when_collected() -> None:
    server = rt.connect_mcp(_server())
    runner = server._runner
    assert runner is not None
    del server
    with pytest.warns(ResourceWarning, match="garbage-collected while open"):
        gc.collect()
    runner.join()
    assert not runner.alive


def test_bad_arguments_are_refused_before_sending() -> None:
    with rt.connect_mcp(_server()) as server:
        tool = server.tool("add")
        with pytest.raises(rt.NodeInvocationError, match=r"missing required argument\(s\) \['b'\]"):
            rt.call_sync(tool, a=1)
        with pytest.raises(rt.NodeInvocationError, match="takes keyword arguments only"):
            rt.call_sync(tool, 1, 2)
        with pytest.raises(rt.NodeInvocationError, match="arguments must be a mapping"):
            tool.prepare_tool([1, 2])  # type: ignore[arg-type]
        assert server.statistics().calls == 0


def test_results_of_other_mcp_servers() -> None:
    """A server made with the MCP SDK itself: its wrapped results are unwrapped; a text-only
    result comes back as the text; an error names the tool."""
    sdk = MCPServer("sdk")

    @sdk.tool()
    def double(x: int) -> int:
        return 2 * x

    @sdk.tool()
    def text_only(x: int) -> dict:  # type: ignore[type-arg]
        return {"x": x}

    @sdk.tool()
    def broken() -> str:
        raise ValueError("no")

    @sdk.tool(name="file-reader")
    def reader(file_path: str) -> str:
        return file_path

    with rt.connect_mcp(sdk) as server:
        assert rt.call_sync(server.tool("double"), x=4) == 8
        assert rt.call_sync(server.tool("text_only"), x=1).replace(" ", "") == '{\n"x":1\n}'
        with pytest.raises(MCPToolError, match="^MCP tool 'broken' failed: Error executing"):
            rt.call_sync(server.tool("broken"))
        assert server.tool("file-reader").__name__ == "MCPToolFileReader"
        assert rt.call_sync(server.tool("file-reader"), file_path="/x") == "/x"


def test_connecting_to_what_is_not_a_server() -> None:
    with pytest.raises(MCPConnectionError, match="needs MCPStdioParams, MCPHttpParams or an in-"):
        rt.connect_mcp(object())
    with pytest.raises(MCPConnectionError, match=r"could not connect to MCP server `/nonexist"):
        rt.connect_mcp(rt.MCPStdioParams(command="/nonexistent/server"))


def _children() -> set[int]:
    """Processes whose parent is this one."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid():
                found.add(int(entry.name))
    return found


def test_a_server_that_never_answers_times_out_and_is_stopped() -> None:
    before = _children()
    silent = rt.MCPStdioParams(command=sys.executable, args=["-c", "import time; time.sleep(600)"])
    with pytest.raises(MCPConnectionError, match="no answer within 0.5s"):
        rt.connect_mcp(silent, open_timeout=0.5)
    assert _children() == before


def test_the_connection_timeout_bounds_each_tool_call() -> None:
    @rt.function_node
    async def hang() -> None:
        """Never answers."""
        await asyncio.Event().wait()

    server = rt.create_mcp_server([hang, add], session=lambda: rt.Session(store=None))
    with rt.connect_mcp(server, timeout=0.2) as client, rt.Session(store=None) as run:
        with pytest.raises(MCPTimeoutError, match=r"^MCP tool 'hang' did not answer within 0.2s"):
            rt.call_sync(client.tool("hang"))
        assert rt.call_sync(client.tool("add"), a=1, b=2) == 3
    assert [r.status for r in run.info.requests.values()] == ["failed", "succeeded"]
    assert client.statistics().timed_out == 1


def test_connection_state_errors() -> None:
    server = MCPConnection(_server())
    assert server.statistics().calls == 0 and server.statistics().open_seconds is None
    with server:
        assert server.statistics().open_seconds is not None
    with pytest.raises(MCPConnectionError, match="is closed"):
        asyncio.run(server.call_tool("add", {"a": 1, "b": 1}))
