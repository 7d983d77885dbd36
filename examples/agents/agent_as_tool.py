"""An agent that uses another agent as a tool: an editor asks a researcher (an agent with
its own tool) before it writes. Both agents' model calls and tool calls are requests of one
run tree, and the editor's usage includes the researcher's.

    python -m examples.agents.agent_as_tool
"""

from __future__ import annotations

import asyncio
from typing import Any

import runtree as rt
from examples.agents.model import example_model, last_user_text, tool_results
from runtree.testing import Reply, tool_call

FACTS = {"rust": "Rust 1.0 was released in May 2015.", "python": "Python 3.0 came out in 2008."}


@rt.function_node
def search_notes(topic: str) -> str:
    """Search the notes for a topic.

    Args:
        topic: one word, e.g. "rust"
    """
    return FACTS.get(topic.lower(), "nothing found")


def team(llm: rt.llm.ModelBase) -> type[rt.llm.LLMBase]:
    """The editor, with the researcher as its tool (both on ``llm``)."""
    researcher = rt.agent_node(
        "Researcher",
        tool_nodes=[search_notes],
        llm=llm,
        system_message="Find facts with search_notes and report them in one sentence.",
        manifest=rt.ToolManifest(
            description="Finds a fact about a topic.",
            parameters=[rt.llm.Parameter(name="topic", type="string", description="the topic")],
        ),
    )
    return rt.agent_node(
        "Editor",
        tool_nodes=[researcher],
        llm=llm,
        system_message="Write one short paragraph. Ask the Researcher for facts first.",
    )


def scripted(request: Any) -> Reply:
    system = request["messages"][0]["content"]
    results = tool_results(request)
    if system.startswith("Find facts"):  # the researcher
        if not results:
            return Reply(tool_calls=[tool_call("search_notes", topic="rust")])
        return Reply(f"Found: {results[0]}")
    if not results:  # the editor
        return Reply(tool_calls=[tool_call("Researcher", topic="rust")])
    return Reply(f"A short note for '{last_user_text(request)}': {results[0][len('Found: ') :]}")


async def main() -> rt.llm.StringResponse:
    with example_model(scripted) as chosen:
        llm = chosen.llm
        print(f"model: {chosen.where}")
        editor = team(llm)
        async with rt.Session(name="agent-as-tool") as run:
            response = await rt.call(editor, "when did Rust 1.0 come out?")
    print(f"answer: {response.text}")
    print(f"usage of the whole team: {response.usage.requests} model calls")
    print(run.info.tree_text())
    return response


if __name__ == "__main__":
    asyncio.run(main())
