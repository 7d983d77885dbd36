"""The MCP example: the client uses the travel desk's tools over stdio and over HTTP."""

from __future__ import annotations

import pytest
from examples.mcp import client


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_the_client_uses_the_servers_tools(transport: str) -> None:
    report = client.main(["--http"] if transport == "http" else [])
    assert report.transport == transport
    assert report.tools == ["convert_temperature", "convert_money", "city_facts"]
    assert report.answer == "250 EUR is 41,033 JPY in Japan (UTC+9); 30 C is 86.0 F."
    lines = report.tree.splitlines()
    assert lines[0].startswith("TripPlanner [succeeded]")
    assert sorted(line.split(" [")[0].strip() for line in lines[1:]) == [
        "city_facts",
        "convert_money",
        "convert_temperature",
    ]
