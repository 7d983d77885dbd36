"""Real MCP servers for the tests: the app in ``app.py`` over stdio and over streamable HTTP
on 127.0.0.1 (a free port; the server prints its URL once it accepts connections)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runtree as rt
from runtree.integrations.mcp import MCPConnection

ROOT = Path(__file__).resolve().parents[3]
APP = "tests.integrations.mcp.app"
_READY = re.compile(r"ready at (http://\S+)")


def child_env(home: Path) -> dict[str, str]:
    """What a server process needs: this checkout importable, its own runtree home."""
    return {"PYTHONPATH": str(ROOT), "RT_HOME": str(home)}


def stdio_params(home: Path, **options: Any) -> rt.MCPStdioParams:
    return rt.MCPStdioParams(
        command=sys.executable, args=["-m", APP], cwd=str(ROOT), env=child_env(home), **options
    )


class HttpServer:
    """``app.py --http`` in a process of its own, on a free port of 127.0.0.1."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.log = home / "server.log"
        home.mkdir(parents=True, exist_ok=True)
        with self.log.open("w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", APP, "--http", "--port", "0"],
                cwd=ROOT,
                env={**os.environ, **child_env(home)},
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # EOF (the server died) ends the wait too
        match = _READY.search(line)
        if match is None:
            self.stop()
            raise AssertionError(f"the HTTP server did not start: {line!r}\n{self.log.read_text()}")
        self.url = match.group(1)

    def params(self, **options: Any) -> rt.MCPHttpParams:
        return rt.MCPHttpParams(url=self.url, **options)

    def stop(self) -> int:
        """SIGTERM (a graceful stop), then the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            assert self.process.stdout is not None
            self.process.stdout.close()


@pytest.fixture(scope="module")
def stdio_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MCPConnection]:
    """One stdio server for the module, opened outside any session (shared by runs)."""
    with rt.connect_mcp(stdio_params(tmp_path_factory.mktemp("stdio-home"))) as server:
        yield server


@pytest.fixture(scope="module")
def http_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    process = HttpServer(tmp_path_factory.mktemp("http-home"))
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def http_server(http_process: HttpServer) -> Iterator[MCPConnection]:
    with rt.connect_mcp(http_process.params()) as server:
        yield server


@pytest.fixture(params=["stdio", "http"])
def remote(request: pytest.FixtureRequest) -> MCPConnection:
    """The module's stdio server, then its HTTP server."""
    connection: MCPConnection = request.getfixturevalue(f"{request.param}_server")
    return connection
