"""``python -m bench.mcp``: what MCP costs, against ``examples/mcp/server.py``.

For stdio and for streamable HTTP on 127.0.0.1: the time to open a connection (for stdio,
starting the server process), and the time per tool call three ways over the same server:
the bare ``mcp`` client, ``MCPConnection.call_tool`` (adds the hop to the connection's
thread) and ``rt.call`` of the tool node (adds the request in the run). Figures are
medians of a few repeats; on a shared machine they are only indicative.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

import runtree as rt

ROOT = Path(__file__).resolve().parents[1]
CALLS = 200
ARGS = {"value": 30.0, "to": "F"}


def _per_call_us(seconds: float) -> float:
    return seconds / CALLS * 1e6


async def _bare(target: Any) -> float:
    async with Client(target) as client:
        await client.call_tool("convert_temperature", ARGS)
        start = time.perf_counter()
        for _ in range(CALLS):
            await client.call_tool("convert_temperature", ARGS)
        return _per_call_us(time.perf_counter() - start)


async def _runtree(connection: Any) -> tuple[float, float]:
    tool = connection.tool("convert_temperature")
    async with rt.Session(store=None):
        await rt.call(tool, **ARGS)
        start = time.perf_counter()
        for _ in range(CALLS):
            await connection.call_tool("convert_temperature", ARGS)
        raw = _per_call_us(time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(CALLS):
            await rt.call(tool, **ARGS)
        node = _per_call_us(time.perf_counter() - start)
    return raw, node


def measure(params: Any, bare_target: Any) -> dict[str, float]:
    opens, bare, raw, node = [], [], [], []
    for _ in range(3):
        start = time.perf_counter()
        with rt.connect_mcp(params) as connection:
            opens.append(time.perf_counter() - start)
            r, n = asyncio.run(_runtree(connection))
            raw.append(r)
            node.append(n)
        bare.append(asyncio.run(_bare(bare_target)))
    return {
        "open_s": statistics.median(opens),
        "bare_call_us": statistics.median(bare),
        "call_tool_us": statistics.median(raw),
        "rt_call_us": statistics.median(node),
    }


def main() -> None:
    home = tempfile.mkdtemp(prefix="runtree-bench-mcp-")
    env = {"PYTHONPATH": str(ROOT), "RT_HOME": home}
    module = ["-m", "examples.mcp.server"]
    stdio = rt.MCPStdioParams(command=sys.executable, args=module, cwd=str(ROOT), env=env)
    rows = {
        "stdio": measure(
            stdio,
            StdioServerParameters(command=sys.executable, args=module, cwd=str(ROOT), env=env),
        )
    }
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
        assert ready is not None, "the HTTP server did not start"
        rows["http"] = measure(rt.MCPHttpParams(url=ready.group(1)), ready.group(1))
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stdout is not None:
            server.stdout.close()
    print(f"{'transport':10s} {'open':>8s} {'bare mcp':>10s} {'call_tool':>10s} {'rt.call':>10s}")
    for name, row in rows.items():
        print(
            f"{name:10s} {row['open_s'] * 1000:6.0f}ms {row['bare_call_us']:8.0f}us "
            f"{row['call_tool_us']:8.0f}us {row['rt_call_us']:8.0f}us"
        )


if __name__ == "__main__":
    main()
