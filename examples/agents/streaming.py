"""Streaming an agent to the terminal: tokens as they come, tool calls as they start and
end, then the final answer (decided only after the whole loop).

    python -m examples.agents.streaming
"""

from __future__ import annotations

import asyncio
from typing import Any

import runtree as rt
from examples.agents.model import example_model, tool_results
from runtree.llm import FinalResponse, TextDelta, ToolCallResult, ToolCallStarted
from runtree.testing import Reply, tool_call


@rt.function_node
def word_count(text: str) -> int:
    """Count the words of a text.

    Args:
        text: the text
    """
    return len(text.split())


def scripted(request: Any) -> Reply:
    if not tool_results(request):
        return Reply(
            "I will count the words first.",
            tool_calls=[tool_call("word_count", text="the quick brown fox jumps")],
        )
    return Reply("The sentence has five words, so it is short and quick to read.")


Counter = rt.agent_node("Counter", tool_nodes=[word_count], system_message="Use word_count.")


async def main() -> str:
    with example_model(scripted) as chosen:
        llm = chosen.llm
        print(f"model: {chosen.where}")
        answer = ""
        async with rt.Session(name="streaming"):
            async for event in rt.stream(
                Counter, "How long is 'the quick brown fox jumps'?", llm=llm
            ):
                if isinstance(event, TextDelta):
                    print(event.text, end="", flush=True)
                elif isinstance(event, ToolCallStarted):
                    print(f"\n[calling {event.name}]", flush=True)
                elif isinstance(event, ToolCallResult):
                    print(f"[{event.name} -> {event.result}]", flush=True)
                elif isinstance(event, FinalResponse) and len(event.path) == 1:
                    answer = event.text
    print(f"\nfinal answer: {answer}")
    return answer


if __name__ == "__main__":
    asyncio.run(main())
