"""An MCP server made of runtree nodes: a small travel desk.

Serve it over stdio (what MCP clients such as desktop assistants start)::

    python -m examples.mcp.server

or over streamable HTTP on 127.0.0.1 (``--port 0`` picks a free port; the server prints
``... ready at http://127.0.0.1:PORT/mcp`` once it accepts connections)::

    python -m examples.mcp.server --http --port 8000

Every tool call is a request of the server's run, journaled in ``$RT_HOME/runtree.db``
(``runtree show latest --name "mcp-server travel-desk"`` shows it).
"""

from __future__ import annotations

import argparse
from typing import Literal

import runtree as rt
from runtree.llm.tools import Parameter, Tool

CITIES: dict[str, dict[str, object]] = {
    "lisbon": {"country": "Portugal", "currency": "EUR", "utc_offset": 0},
    "osaka": {"country": "Japan", "currency": "JPY", "utc_offset": 9},
    "quito": {"country": "Ecuador", "currency": "USD", "utc_offset": -5},
}
#: units of each currency per US dollar (a fixed table: the example is offline)
RATES = {"USD": 1.0, "EUR": 0.92, "JPY": 151.0}


@rt.function_node
def convert_temperature(value: float, to: Literal["C", "F"]) -> float:
    """Convert a temperature between Celsius and Fahrenheit.

    Args:
        value: the temperature to convert
        to: the unit to convert to, "C" or "F"
    """
    result = value * 9 / 5 + 32 if to == "F" else (value - 32) * 5 / 9
    return round(result, 1)


@rt.function_node
def convert_money(amount: float, source: str, target: str) -> float:
    """Convert an amount of money between USD, EUR and JPY.

    Args:
        amount: how much
        source: the currency it is in
        target: the currency wanted
    """
    for code in (source, target):
        if code not in RATES:
            raise ValueError(f"unknown currency {code!r}; known: {sorted(RATES)}")
    return round(amount / RATES[source] * RATES[target], 2)


class CityFacts(rt.Node[dict[str, object]]):
    """Facts about a city, and what 100 USD is there (a nested call of convert_money)."""

    def __init__(self, city: str) -> None:
        super().__init__()
        self.city = city

    @classmethod
    def name(cls) -> str:
        return "city_facts"

    @classmethod
    def tool_info(cls) -> Tool:
        return Tool(
            name="city_facts",
            description="Country, currency and UTC offset of a city, and what 100 USD is there.",
            parameters=[
                Parameter(name="city", type="string", enum=tuple(sorted(CITIES))),
            ],
        )

    async def invoke(self) -> dict[str, object]:
        facts = CITIES.get(self.city.lower())
        if facts is None:
            raise KeyError(f"no facts about {self.city!r}; try one of {sorted(CITIES)}")
        local = await rt.call(convert_money, 100.0, "USD", str(facts["currency"]))
        return {"city": self.city, **facts, "100_usd_in_local": local}


SERVER = rt.create_mcp_server(
    [convert_temperature, convert_money, CityFacts],
    server_name="travel-desk",
    instructions="Offline travel helpers: temperatures, money, city facts.",
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http", action="store_true", help="serve streamable HTTP, not stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    options = parser.parse_args(argv)
    if options.http:
        SERVER.run("streamable-http", host=options.host, port=options.port)
    else:
        SERVER.run()


if __name__ == "__main__":
    main()
