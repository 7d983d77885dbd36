"""Use the travel desk's tools (``examples/mcp/server.py``) from runtree.

    python -m examples.mcp.client          # starts the server over stdio
    python -m examples.mcp.client --http   # starts it over HTTP on 127.0.0.1, free port

``rt.connect_mcp`` turns the server's tools into tool nodes. ``make_assistant`` decides
what to do with them: here a fixed plan, so the example runs offline and without a model.
An LLM agent slots in at that one place::

    def make_assistant(tools):
        return rt.agent_node(tool_nodes=tools, llm=..., system_message="You plan trips.")

Every tool call is a request of this run (and of the server's run on its side).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import runtree as rt

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "I fly to Osaka with 250 EUR. How many yen is that, and what is 30 C in F?"


def make_assistant(tools: Sequence[type[rt.Node[Any]]]) -> type[rt.Node[Any]]:
    """The node that answers a question with the tools. Replace with an agent."""
    by_name = {tool.name(): tool for tool in tools}

    class TripPlanner(rt.Node[str]):
        """A scripted stand-in for an LLM agent: always the same plan."""

        def __init__(self, question: str) -> None:
            super().__init__()
            self.question = question

        async def invoke(self) -> str:
            facts, yen, fahrenheit = await asyncio.gather(
                rt.call(by_name["city_facts"], city="osaka"),
                rt.call(by_name["convert_money"], amount=250, source="EUR", target="JPY"),
                rt.call(by_name["convert_temperature"], value=30, to="F"),
            )
            return (
                f"250 EUR is {yen:,.0f} {facts['currency']} in {facts['country']} "
                f"(UTC+{facts['utc_offset']}); 30 C is {fahrenheit} F."
            )

    return TripPlanner


@dataclasses.dataclass(frozen=True)
class Report:
    transport: str
    tools: list[str]
    answer: str
    tree: str


@contextmanager
def travel_desk(http: bool) -> Iterator[rt.MCPStdioParams | rt.MCPHttpParams]:
    """Where the travel desk is: a command to start (stdio), or a server started here."""
    env = {"PYTHONPATH": str(ROOT)}
    if "RT_HOME" in os.environ:
        env["RT_HOME"] = os.environ["RT_HOME"]
    module = ["-m", "examples.mcp.server"]
    if not http:
        yield rt.MCPStdioParams(command=sys.executable, args=module, cwd=str(ROOT), env=env)
        return
    server = subprocess.Popen(
        [sys.executable, *module, "--http", "--port", "0"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        ready = re.search(r"ready at (\S+)", server.stdout.readline())
        if ready is None:
            raise RuntimeError("the travel desk did not start")
        yield rt.MCPHttpParams(url=ready.group(1))
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stdout is not None:
            server.stdout.close()


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description="Use the travel desk's MCP tools.")
    parser.add_argument("--http", action="store_true", help="over HTTP instead of stdio")
    options = parser.parse_args(argv)
    with travel_desk(options.http) as params, rt.connect_mcp(params) as desk:
        tools = desk.tools
        print(f"connected to {desk.label}: tools {[tool.name() for tool in tools]}")
        assistant = make_assistant(tools)
        with rt.Session(name="mcp-example") as run:
            answer = rt.call_sync(assistant, QUESTION)
    print(f"\nQ: {QUESTION}\nA: {answer}\n\nrequest tree of run {run.run_id}:")
    tree = run.info.tree_text()
    print(tree)
    return Report(
        transport="http" if options.http else "stdio",
        tools=[tool.name() for tool in tools],
        answer=answer,
        tree=tree,
    )


if __name__ == "__main__":
    main()
