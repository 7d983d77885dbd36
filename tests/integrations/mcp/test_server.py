"""create_mcp_server: what is served, how calls run, and bad input."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import runtree as rt
from runtree.integrations.mcp import MCPToolError, MCPToolServer
from runtree.integrations.mcp.schema import WRAPPED_OUTPUT_SCHEMA
from runtree.llm.tools import Parameter, Tool
from runtree.store import SqliteRunStore, default_store_path


@rt.function_node
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def plain(text: str) -> str:
    """A plain function, wrapped as a function node."""
    return text[::-1]


@dataclasses.dataclass
class Point:
    x: int
    y: int


def point(x: int) -> Point:
    """Returns an object JSON cannot hold."""
    return Point(x, x)


class Ask(rt.Node[str]):
    """Builds itself from tool arguments in its own way (as agents do)."""

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    @classmethod
    def tool_info(cls) -> Tool:
        return Tool(
            name="ask",
            description="Ask a question.",
            parameters=[Parameter(name="prompt", type="string")],
        )

    @classmethod
    def prepare_tool(cls, params: Mapping[str, Any]) -> Ask:
        return cls(question=f"Q: {params['prompt']}")

    async def invoke(self) -> str:
        return self.question


class NotATool(rt.Node[int]):
    async def invoke(self) -> int:
        return 1


def test_the_listing_describes_each_node() -> None:
    server = rt.create_mcp_server([add, plain, Ask], server_name="demo")
    assert isinstance(server, MCPToolServer) and server.name == "demo"
    assert [t.name for t in server.tools] == ["add", "plain", "ask"]
    with rt.connect_mcp(server) as client:
        add_tool = client.tool("add")
        assert add_tool.input_schema == add.tool_info().to_json_schema()
        assert add_tool.output_schema == WRAPPED_OUTPUT_SCHEMA
        assert client.tool("plain").tool_info().description == (
            "A plain function, wrapped as a function node."
        )


def test_calls_run_in_one_journaled_run_of_the_server() -> None:
    server = rt.create_mcp_server([add, plain, point, Ask], server_name="demo")
    with rt.connect_mcp(server) as client:
        assert rt.call_sync(client.tool("add"), a=1, b=2) == 3
        assert rt.call_sync(client.tool("plain"), text="abc") == "cba"
        assert rt.call_sync(client.tool("ask"), prompt="why?") == "Q: why?"
        marker = rt.call_sync(client.tool("point"), x=1)
    assert marker["__runtree__"] == "dataclass" and marker["fields"] == {"x": 1, "y": 1}
    reader = SqliteRunStore(default_store_path()).open()
    try:
        (run,) = reader.list_runs(name="mcp-server demo")
        requests = reader.get_requests(run.run_id)
    finally:
        reader.close()
    assert run.status == "succeeded"
    assert [(r.node_name, r.parent_id) for r in requests] == [
        ("add", None),
        ("plain", None),
        ("Ask", None),  # the node's own name; "ask" is its tool name
        ("point", None),
    ]
    assert requests[2].inputs == {"args": [], "kwargs": {"prompt": "why?"}}


def test_a_session_factory_chooses_the_run(tmp_path: Path) -> None:
    server = rt.create_mcp_server(
        [add], session=lambda: rt.Session(name="mine", store=tmp_path / "s.db")
    )
    with rt.connect_mcp(server) as client:
        rt.call_sync(client.tool("add"), a=1, b=1)
    reader = SqliteRunStore(tmp_path / "s.db").open()
    try:
        assert [r.name for r in reader.list_runs()] == ["mine"]
    finally:
        reader.close()


def test_errors_of_the_node_and_of_the_arguments() -> None:
    def boom(n: int) -> int:
        """Fails."""
        raise KeyError(n)

    server = rt.create_mcp_server([add, boom], session=lambda: rt.Session(store=None))
    with rt.connect_mcp(server) as client:
        with pytest.raises(MCPToolError, match=r"^MCP tool 'boom' failed: KeyError: 7$"):
            rt.call_sync(client.tool("boom"), n=7)
        with pytest.raises(MCPToolError, match=r"invalid arguments: 'b' is a required property$"):
            asyncio.run(client.call_tool("add", {"a": 1}))


def test_bad_definitions_are_refused() -> None:
    with pytest.raises(rt.ConfigurationError, match="needs a list of nodes"):
        rt.create_mcp_server(add)  # type: ignore[arg-type]
    with pytest.raises(rt.ConfigurationError, match="at least one node"):
        rt.create_mcp_server([])
    with pytest.raises(rt.ToolDefinitionError, match="two nodes are called 'add'"):
        rt.create_mcp_server([add, add])
    with pytest.raises(rt.NodeDefinitionError, match="NotATool is not a tool"):
        rt.create_mcp_server([NotATool])
    with pytest.raises(rt.ConfigurationError, match="session must be a function"):
        rt.create_mcp_server([add], session="a session")  # type: ignore[arg-type]
    server = rt.create_mcp_server([add])
    with pytest.raises(rt.ConfigurationError, match="unknown MCP transport 'sse'"):
        server.run("sse")
