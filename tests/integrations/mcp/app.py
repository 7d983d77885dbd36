"""The MCP server the tests talk to: runtree nodes, served over stdio (default) or
streamable HTTP (``--http [--port N]``, which prints ``... ready at <url>``).

Run as ``python -m tests.integrations.mcp.app`` from the repository root.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from typing import Any

import runtree as rt
from runtree.context.central import get_session
from runtree.llm.tools import Parameter, Tool

#: set when wait_forever starts (server side)
STARTED = asyncio.Event()


class Cancellations:
    """How many wait_forever calls were cancelled, and an event set at each one."""

    count = 0
    event = asyncio.Event()


@rt.function_node
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first
        b: the second
    """
    return a + b


@rt.function_node
def describe(name: str, tags: list[str] | None = None) -> dict[str, Any]:
    """Describe a thing as an object."""
    return {"name": name, "tags": tags or [], "size": 2.5, "missing": None, "ok": True}


@rt.function_node
def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


class Greeter(rt.Node[str]):
    """A node class served as a tool through its own tool_info()."""

    def __init__(self, who: str, punctuation: str = "!") -> None:
        super().__init__()
        self.who = who
        self.punctuation = punctuation

    @classmethod
    def name(cls) -> str:
        return "greet"

    @classmethod
    def tool_info(cls) -> Tool:
        return Tool(
            name="greet",
            description="Greet someone.",
            parameters=[
                Parameter(name="who", type="string", description="whom to greet"),
                Parameter(name="punctuation", type="string", required=False, default="!"),
            ],
        )

    async def invoke(self) -> str:
        return f"hello {self.who}{self.punctuation}"


@rt.function_node
async def wait_forever() -> str:
    """Wait until cancelled."""
    STARTED.set()
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        Cancellations.count += 1
        event, Cancellations.event = Cancellations.event, asyncio.Event()
        event.set()
        raise
    return "never"


@rt.function_node
async def wait_started(wait: float) -> bool:
    """Whether wait_forever has started (waits up to `wait` seconds for it)."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(STARTED.wait(), wait)
    return STARTED.is_set()


@rt.function_node
async def cancellations(more_than: int, wait: float) -> int:
    """How many wait_forever calls were cancelled, once that is more than `more_than`
    (waits up to `wait` seconds for it)."""
    deadline = asyncio.get_running_loop().time() + wait
    while Cancellations.count <= more_than:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            break
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(Cancellations.event.wait(), left)
    return Cancellations.count


@rt.function_node
def fail(message: str) -> str:
    """Raise ValueError(message)."""
    raise ValueError(message)


@rt.function_node
def die(code: int = 3) -> str:
    """Exit the server process at once, mid-call."""
    os._exit(code)


@rt.function_node
async def nested(x: int) -> int:
    """Add x to itself through a nested call (a child request on the server)."""
    return int(await rt.call(add, x, x))


@rt.function_node
def whoami() -> dict[str, Any]:
    """The server process and the run that serves the calls."""
    session = get_session()
    return {"pid": os.getpid(), "run_id": session.run_id, "run_name": session.name}


SERVER = rt.create_mcp_server(
    [
        add,
        describe,
        shout,
        Greeter,
        wait_forever,
        wait_started,
        cancellations,
        fail,
        die,
        nested,
        whoami,
    ],
    server_name="test-tools",
    instructions="Tools for runtree's tests.",
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args()
    if options.http:
        SERVER.run("streamable-http", port=options.port)
    else:
        SERVER.run()


if __name__ == "__main__":
    main()
