"""A child process for the crash tests: runs a tool-calling agent against the local server
with ``durability="sync"``.

``python -m tests.llm.agent_worker DB BASE_URL EFFECTS_DIR [RESUME_RUN_ID]``. The tool
``fetch_b`` blocks forever (after saying ``BLOCKED``) when ``RT_TEST_BLOCK_B=1``, so the test
can SIGKILL the process mid tool-loop at a known point. Each tool appends a line to its file
in EFFECTS_DIR: the side effects the test counts.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import runtree as rt
from runtree.llm import OpenAILLM

EFFECTS = Path(sys.argv[3])


def _effect(name: str, value: str) -> None:
    with open(EFFECTS / name, "a", encoding="utf-8") as file:
        file.write(value + "\n")


@rt.function_node
def fetch_a(key: str) -> str:
    """Look up the first value."""
    _effect("a", key)
    return f"A({key})"


@rt.function_node
async def fetch_b(key: str) -> str:
    """Look up the second value."""
    _effect("b", key)
    if os.environ.get("RT_TEST_BLOCK_B") == "1":
        print("BLOCKED", flush=True)
        await asyncio.Event().wait()  # until SIGKILL
    return f"B({key})"


def main() -> None:
    db, base_url = sys.argv[1], sys.argv[2]
    resume = sys.argv[4] if len(sys.argv) > 4 else None
    llm = OpenAILLM("scripted", base_url=base_url, api_key="test", trust_env=False)
    agent = rt.agent_node("Collector", tool_nodes=[fetch_a, fetch_b], llm=llm)
    with rt.Session(name="crash-test", store=db, durability="sync", resume=resume) as run:
        print("RUN", run.run_id, flush=True)
        response = rt.call_sync(agent, "Collect a and b.")
    print("ANSWER", response.text, flush=True)
    print("USAGE", response.usage.requests, response.usage.total_tokens, flush=True)


if __name__ == "__main__":
    main()
