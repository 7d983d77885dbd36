"""A tool-calling agent: it looks up the weather of two cities (two tool calls, run at
once) and compares them.

    python -m examples.agents.tool_agent
"""

from __future__ import annotations

import asyncio
from typing import Any

import runtree as rt
from examples.agents.model import example_model, tool_results
from runtree.testing import Reply, tool_call

WEATHER = {"paris": (18, "cloudy"), "tokyo": (24, "sunny"), "oslo": (9, "rainy")}


@rt.function_node
def get_weather(city: str) -> dict[str, Any]:
    """The current weather of a city.

    Args:
        city: the city's name, e.g. "Paris"
    """
    temperature, sky = WEATHER.get(city.lower(), (15, "unknown"))
    return {"city": city, "temperature_c": temperature, "sky": sky}


def scripted(request: Any) -> Reply:
    """What the offline model says: look both cities up, then compare."""
    results = tool_results(request)
    if not results:
        return Reply(
            "Let me check both cities.",
            tool_calls=[
                tool_call("get_weather", city="Paris"),
                tool_call("get_weather", city="Tokyo"),
            ],
        )
    return Reply("Tokyo is warmer: 24°C and sunny, against 18°C and cloudy in Paris.")


WeatherAgent = rt.agent_node(
    "Weather Agent",
    tool_nodes=[get_weather],
    system_message="You answer weather questions. Use the get_weather tool.",
)


async def main() -> rt.llm.StringResponse:
    with example_model(scripted) as chosen:
        llm = chosen.llm
        print(f"model: {chosen.where}")
        async with rt.Session(name="tool-agent") as run:
            response = await rt.call(WeatherAgent, "Is it warmer in Paris or in Tokyo?", llm=llm)
    print(f"answer: {response.text}")
    for call, result in response.tool_invocations:
        print(f"  tool {call.name}({call.arguments}) -> {result.result}")
    print(f"usage: {response.usage.requests} model calls, {response.usage.total_tokens} tokens")
    print(run.info.tree_text())
    return response


if __name__ == "__main__":
    asyncio.run(main())
