"""A structured-output agent with tools: it prices a trip with a tool, then answers with a
``TripPlan`` (a pydantic model) instead of text.

    python -m examples.agents.structured_agent
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import BaseModel

import runtree as rt
from examples.agents.model import example_model, tool_results
from runtree.testing import Reply, tool_call

FARES = {("paris", "rome"): 120, ("paris", "oslo"): 210}


class TripPlan(BaseModel):
    """A priced trip."""

    origin: str
    destination: str
    nights: int
    total_eur: int


@rt.function_node
def train_fare(origin: str, destination: str) -> int:
    """The train fare in euros between two cities.

    Args:
        origin: where the trip starts
        destination: where it goes
    """
    return FARES.get((origin.lower(), destination.lower()), 150)


@rt.function_node
def hotel_price(city: str, nights: int) -> int:
    """The hotel price in euros for some nights in a city.

    Args:
        city: the city
        nights: how many nights
    """
    return 90 * nights


def scripted(request: Any) -> Reply:
    results = tool_results(request)
    if not results:
        return Reply(
            tool_calls=[
                tool_call("train_fare", origin="Paris", destination="Rome"),
                tool_call("hotel_price", city="Rome", nights=3),
            ]
        )
    total = 2 * int(results[0]) + int(results[1])  # a return ticket and the hotel
    plan = {"origin": "Paris", "destination": "Rome", "nights": 3, "total_eur": total}
    return Reply(json.dumps(plan))


Planner = rt.agent_node(
    "Trip Planner",
    tool_nodes=[train_fare, hotel_price],
    output_schema=TripPlan,
    system_message="Price trips with the tools: a return train ticket plus the hotel.",
)


async def main() -> TripPlan:
    with example_model(scripted) as chosen:
        llm = chosen.llm
        print(f"model: {chosen.where}")
        async with rt.Session(name="structured-agent"):
            response = await rt.call(Planner, "Three nights in Rome from Paris?", llm=llm)
    plan: TripPlan = response.structured
    print(f"plan: {plan.nights} nights {plan.origin} -> {plan.destination}: {plan.total_eur} EUR")
    return plan


if __name__ == "__main__":
    asyncio.run(main())
