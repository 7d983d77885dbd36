"""The MCP integration's public names, and what importing costs."""

from __future__ import annotations

import subprocess
import sys

import runtree as rt
from runtree.integrations import mcp


def test_exports_resolve_and_are_documented() -> None:
    assert mcp.__all__ == sorted(mcp.__all__)
    for name in mcp.__all__:
        assert getattr(mcp, name).__doc__, name
    assert rt.connect_mcp is mcp.connect_mcp and rt.create_mcp_server is mcp.create_mcp_server
    assert rt.MCPStdioParams is mcp.MCPStdioParams and rt.MCPHttpParams is mcp.MCPHttpParams


def test_importing_runtree_or_the_params_loads_no_mcp() -> None:
    code = (
        "import sys, runtree as rt; rt.MCPStdioParams(command='x'); rt.connect_mcp; "
        "print(sorted(m for m in ('mcp', 'mcp_types', 'pydantic', 'httpx2', 'starlette') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_without_the_mcp_package_the_error_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['mcp'] = None; import runtree as rt\n"
        "try:\n    rt.create_mcp_server\nexcept ImportError as e:\n    print(e)\n"
        "try:\n    rt.connect_mcp(rt.MCPStdioParams(command='x'))\nexcept ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert len(lines) == 2
    assert all("pip install 'runtree[mcp]'" in line for line in lines)
