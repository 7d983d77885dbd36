"""MCP tool nodes are agent tools like any other: an agent on the local OpenAI-protocol
server calls the tools of a real MCP server (in process, over the real protocol)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from typing import Any

import pytest

import runtree as rt
from runtree.testing import LocalOpenAIServer, Reply, tool_call

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mcp") is None, reason="the mcp extra is not installed"
)


@rt.function_node
def add(a: float, b: float) -> float:
    """Add two numbers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


@rt.function_node
def describe(word: str) -> dict[str, Any]:
    """Facts about a word."""
    return {"word": word, "letters": len(word)}


def test_an_agent_calls_mcp_tools(serve: Callable[..., LocalOpenAIServer]) -> None:
    def model(request: Any) -> Reply:
        results = [m["content"] for m in request["messages"] if m["role"] == "tool"]
        if not results:
            return Reply(
                tool_calls=[tool_call("add", a=2, b=3), tool_call("describe", word="level")]
            )
        return Reply(f"results: {' | '.join(results)}")

    server = serve(model)
    mcp_server = rt.create_mcp_server([add, describe], server_name="calculator")
    with rt.connect_mcp(mcp_server) as calculator:
        agent = rt.agent_node("Calc", tool_nodes=calculator.tools, llm=server.llm())
        with rt.Session(store=None) as run:
            response = rt.call_sync(agent, "2+3, and describe 'level'")
    sent = {t["function"]["name"]: t["function"] for t in server.requests[0]["tools"]}
    assert sent["add"]["parameters"]["required"] == ["a", "b"]
    first, second = (r.result for _, r in response.tool_invocations)
    assert json.loads(first) == 5
    assert json.loads(second) == {"word": "level", "letters": 5}
    assert response.text == f"results: {first} | {second}"
    names = [r.node_name for _, r in run.info.walk()]
    assert names[0] == "Calc" and "add" in names and "describe" in names
