"""End to end over real transports: a server process over stdio, and one over streamable
HTTP on 127.0.0.1. Both serve ``app.py``'s runtree nodes."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import runtree as rt
from runtree.integrations.mcp import (
    MCPConnection,
    MCPConnectionError,
    MCPTimeoutError,
    MCPToolError,
)
from runtree.store import SqliteRunStore
from tests.integrations.mcp.conftest import ROOT, HttpServer, stdio_params


def _mcp_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("runtree-mcp")]


def _process_gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


async def test_values_come_back_exactly(remote: MCPConnection) -> None:
    async with rt.Session(name="values") as session:
        assert await rt.call(remote.tool("add"), a=2, b=3) == 5
        assert await rt.call(remote.tool("describe"), name="box", tags=["a", "b"]) == {
            "name": "box",
            "tags": ["a", "b"],
            "size": 2.5,
            "missing": None,
            "ok": True,
        }
        assert await rt.call(remote.tool("greet"), who="ada") == "hello ada!"
        assert await rt.call(remote.tool("nested"), x=21) == 42
    names = [r.node_name for r in session.info.requests.values()]
    assert names == ["add", "describe", "greet", "nested"]


async def test_one_server_run_serves_every_call(remote: MCPConnection) -> None:
    first = await remote.call_tool("whoami")
    async with rt.Session(store=None):
        second = await rt.call(remote.tool("whoami"))
    assert first == second
    assert first["run_name"] == "mcp-server test-tools"


async def test_cancelling_a_call_reaches_the_server(remote: MCPConnection) -> None:
    before = remote.statistics().cancelled
    async with rt.Session(name="cancel") as session:
        seen = await rt.call(remote.tool("cancellations"), more_than=-1, wait=0)
        task = asyncio.create_task(rt.call(remote.tool("wait_forever")))
        assert await rt.call(remote.tool("wait_started"), wait=30) is True
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the server's node saw the cancellation (it counts them)
        assert await rt.call(remote.tool("cancellations"), more_than=seen, wait=30) == seen + 1
    record = next(r for r in session.info.requests.values() if r.node_name == "wait_forever")
    assert record.status == "cancelled"
    assert remote.statistics().cancelled == before + 1


async def test_bad_tool_names_and_arguments_are_one_line_errors(remote: MCPConnection) -> None:
    with pytest.raises(MCPToolError, match=r"^MCP tool 'nope' failed: unknown tool 'nope'") as e:
        await remote.call_tool("nope", {})
    assert e.value.tool == "nope" and "\n" not in str(e.value)
    with pytest.raises(MCPToolError, match="'x' is not of type 'integer' \\(at a\\)"):
        await remote.call_tool("add", {"a": "x", "b": 1})
    with pytest.raises(MCPToolError, match="ValueError: two lines"):
        await remote.call_tool("fail", {"message": "two\nlines"})
    calls = remote.statistics().calls
    with pytest.raises(rt.NodeInvocationError, match=r"unexpected argument\(s\) \['c'\]"):
        await rt.call(remote.tool("add"), a=1, b=2, c=3)
    assert remote.statistics().calls == calls  # refused before anything was sent


async def test_a_timeout_reaches_the_server_and_the_connection_goes_on(
    remote: MCPConnection,
) -> None:
    timed_out = remote.statistics().timed_out
    async with rt.Session(store=None):
        seen = await rt.call(remote.tool("cancellations"), more_than=-1, wait=0)
        task = asyncio.create_task(remote.call_tool("wait_forever", timeout=2))
        assert await rt.call(remote.tool("wait_started"), wait=30) is True
        with pytest.raises(MCPTimeoutError, match="'wait_forever' did not answer within 2s"):
            await task
        assert await rt.call(remote.tool("cancellations"), more_than=seen, wait=30) == seen + 1
        assert await rt.call(remote.tool("add"), a=1, b=1) == 2
    assert remote.statistics().timed_out == timed_out + 1


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_a_server_that_dies_mid_call_is_a_clear_error(transport: str, tmp_path: Path) -> None:
    process = HttpServer(tmp_path / "http") if transport == "http" else None
    params = process.params() if process else stdio_params(tmp_path)
    try:
        with rt.connect_mcp(params) as server:
            pid = rt.call_sync(server.tool("whoami"))["pid"]
            with pytest.raises(MCPConnectionError, match="lost during the call of tool 'die'"):
                rt.call_sync(server.tool("die"))
            assert server.status == "lost"
            with pytest.raises(
                MCPConnectionError, match=r"was lost.*\(tool 'add' was not called\)"
            ):
                rt.call_sync(server.tool("add"), a=1, b=2)
        assert server.status == "closed"
        if process is not None:
            assert process.stop() == 3
        assert _process_gone(pid)
    finally:
        if process is not None:
            process.stop()


def test_a_connection_left_open_is_closed_at_exit(tmp_path: Path) -> None:
    """A script that opens a connection at import time and never closes it: the server
    process ends with it, and the script exits at once."""
    script = tmp_path / "script.py"
    script.write_text(
        "import runtree as rt\n"
        "from tests.integrations.mcp.conftest import stdio_params\n"
        "from pathlib import Path\n"
        f"server = rt.connect_mcp(stdio_params(Path({str(tmp_path)!r})))\n"
        "print(rt.call_sync(server.tool('whoami'))['pid'], flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert _process_gone(int(done.stdout))


def test_closing_leaves_no_process_thread_or_file(tmp_path: Path) -> None:
    gc.collect()
    fds = len(os.listdir("/proc/self/fd"))
    threads = len(_mcp_threads())
    server = rt.connect_mcp(stdio_params(tmp_path))
    pid = rt.call_sync(server.tool("whoami"))["pid"]
    assert len(_mcp_threads()) == threads + 1
    server.close()
    server.close()  # closing twice is harmless
    gc.collect()
    assert _process_gone(pid)
    assert len(_mcp_threads()) == threads
    assert len(os.listdir("/proc/self/fd")) == fds


def test_the_http_server_journals_its_calls_and_stops_cleanly(tmp_path: Path) -> None:
    process = HttpServer(tmp_path / "home")
    try:
        with rt.connect_mcp(process.params()) as server:
            run_id = rt.call_sync(server.tool("whoami"))["run_id"]
            assert rt.call_sync(server.tool("nested"), x=2) == 4
    finally:
        # uvicorn shuts down gracefully on SIGTERM, then ends by the same signal
        assert process.stop() == -signal.SIGTERM
    reader = SqliteRunStore(tmp_path / "home" / "runtree.db").open()
    try:
        run = reader.get_run(run_id)
        assert (run.name, run.status) == ("mcp-server test-tools", "succeeded")
        requests = reader.get_requests(run_id)
    finally:
        reader.close()
    assert [(r.node_name, r.output) for r in requests] == [
        (
            "whoami",
            {
                "pid": requests[0].output["pid"],
                "run_id": run_id,
                "run_name": "mcp-server test-tools",
            },
        ),
        ("nested", 4),
        ("add", 4),
    ]
    assert requests[2].parent_id == requests[1].request_id
