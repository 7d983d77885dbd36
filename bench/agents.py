"""Agent-loop overhead (issue 8): what runtree adds per model turn and per tool call.

The model answers in process with no latency (a ``ModelBase`` whose ``_complete`` returns a
prepared reply), so no HTTP is measured. The same conversation runs twice: as a runtree
agent (``rt.call(Agent, ...)``: every model call and tool call a request of the run, usage
accounting, the tool-argument checks) and as the hand-written loop a user would otherwise
write around the same model method and the same tool function. Two shapes, one tool call per
turn and five per turn, separate the cost of a turn from the cost of a tool call. CPU time,
best of interleaved repeats, journal off (its cost is ``bench/journal.py``'s).

A last row, for scale only: one model call over HTTP to the local OpenAI-protocol server,
through runtree and through the bare openai SDK.

The tool is an ``async`` function: a synchronous one runs in a worker thread in runtree (as
every synchronous node does, so that it never blocks the loop), a cost of its own that
``bench/workloads.py`` measures for all nodes.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

import runtree as rt
from bench.workloads import fastest

TURNS = 20
SDKS = ("openai", "pydantic", "litellm", "httpx", "httpx2")


async def tool(x: int) -> int:
    """Return x plus one."""
    return x + 1


class InstantModel(rt.llm.ModelBase):
    """Answers at once: ``calls_per_turn`` tool calls for ``turns - 1`` turns, then text."""

    provider = "bench"

    def __init__(self, turns: int, calls_per_turn: int) -> None:
        super().__init__("instant")
        self.turns = turns
        self.calls_per_turn = calls_per_turn

    async def _complete(self, request: dict[str, Any]) -> dict[str, Any]:
        turn = sum(1 for m in request["messages"] if m["role"] == "assistant")
        if turn + 1 < self.turns:
            calls = [
                {
                    "id": f"call_{turn}_{i}",
                    "type": "function",
                    "function": {"name": "tool", "arguments": json.dumps({"x": i})},
                }
                for i in range(self.calls_per_turn)
            ]
            message = {"role": "assistant", "content": None, "tool_calls": calls}
            reason = "tool_calls"
        else:
            message = {"role": "assistant", "content": "done"}
            reason = "stop"
        return {
            "id": "x",
            "model": "instant",
            "message": message,
            "finish_reason": reason,
            "usage": {"input_tokens": 10, "output_tokens": 2},
        }


async def hand_written_loop(model: InstantModel, prompt: str) -> str:
    """What one writes without a framework: the same model method, the same tool."""
    tools = [rt.function_node(tool).tool_info().to_openai()]
    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    while True:
        reply = await model._complete({"model": "instant", "messages": messages, "tools": tools})
        message = reply["message"]
        messages.append(message)
        calls = message.get("tool_calls") or []
        if not calls:
            return str(message["content"])
        results = await asyncio.gather(
            *(_run_tool(json.loads(c["function"]["arguments"])) for c in calls)
        )
        for call, result in zip(calls, results, strict=True):
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": str(result)})


async def _run_tool(arguments: dict[str, Any]) -> int:
    return await tool(**arguments)


def _shape(calls_per_turn: int, repeats: int, agents: int) -> dict[str, float]:
    model = InstantModel(TURNS, calls_per_turn)
    agent = rt.agent_node("Bench", tool_nodes=[rt.function_node(tool)], llm=model)

    async def with_runtree() -> None:
        async with rt.Session(store=None):
            for _ in range(agents):
                await rt.call(agent, "go")

    async def empty_session() -> None:
        async with rt.Session(store=None):
            pass

    async def by_hand() -> None:
        for _ in range(agents):
            await hand_written_loop(model, "go")

    best = fastest(repeats, {"runtree": with_runtree, "empty": empty_session, "hand": by_hand})
    overhead = (best["runtree"] - best["empty"] - best["hand"]) / agents
    return {
        "overhead_us_per_agent": overhead * 1e6,
        "runtree_us_per_agent": (best["runtree"] - best["empty"]) / agents * 1e6,
        "hand_us_per_agent": best["hand"] / agents * 1e6,
    }


def loop_overhead(repeats: int = 9, agents: int = 20) -> dict[str, float]:
    """Overhead per model turn and per tool call, from two shapes of the same loop."""
    one = _shape(1, repeats, agents)
    five = _shape(5, repeats, agents)
    tool_calls_one = (TURNS - 1) * 1
    tool_calls_five = (TURNS - 1) * 5
    per_tool = (five["overhead_us_per_agent"] - one["overhead_us_per_agent"]) / (
        tool_calls_five - tool_calls_one
    )
    per_turn = (one["overhead_us_per_agent"] - per_tool * tool_calls_one) / TURNS
    return {
        "per_turn_us": per_turn,
        "per_tool_call_us": per_tool,
        "one_call_per_turn": one,  # type: ignore[dict-item]
        "five_calls_per_turn": five,  # type: ignore[dict-item]
    }


def http_call(calls: int = 50) -> dict[str, float]:
    """Wall time of one model call over HTTP to the local server: runtree and the bare SDK."""
    import openai

    from runtree.testing import LocalOpenAIServer

    with LocalOpenAIServer(lambda request: "ok") as server:
        llm = server.llm()
        request = [{"role": "user", "content": "hi"}]

        async def with_runtree() -> None:
            async with rt.Session(store=None):
                for _ in range(calls):
                    await llm.chat("hi")

        async def bare_sdk() -> None:
            client = openai.AsyncOpenAI(
                api_key="x",
                base_url=server.base_url,
                max_retries=0,
                http_client=openai.DefaultAsyncHttpxClient(trust_env=False),
            )
            async with client:
                for _ in range(calls):
                    await client.chat.completions.create(model=server.model, messages=request)

        best = fastest(5, {"runtree": with_runtree, "sdk": bare_sdk}, clock=time.perf_counter)
    return {
        "runtree_ms_per_call": best["runtree"] / calls * 1e3,
        "sdk_ms_per_call": best["sdk"] / calls * 1e3,
    }


def sdk_free_import() -> bool:
    """Whether ``import runtree`` (and naming its LLM API) imports no SDK and no pydantic."""
    code = (
        "import sys, runtree as rt; rt.agent_node; rt.llm.OpenAILLM; rt.testing.ScriptedLLM\n"
        f"print(any(m in sys.modules for m in {SDKS!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=os.environ
    )
    return out.stdout.strip() == "False"


def run() -> tuple[list[tuple[str, float, str]], dict[str, Any]]:
    loop = loop_overhead()
    rows = [
        ("agent overhead per model turn", loop["per_turn_us"], "us"),
        ("agent overhead per tool call", loop["per_tool_call_us"], "us"),
        ("import runtree imports an SDK (0 = no)", 0.0 if sdk_free_import() else 1.0, ""),
    ]
    details: dict[str, Any] = {"agents": loop}
    try:
        http = http_call()
    except ImportError:  # the openai extra is not installed
        return rows, details
    details["agents_http"] = http
    rows.append(("model call over local HTTP, runtree", http["runtree_ms_per_call"], "ms"))
    rows.append(("model call over local HTTP, bare SDK", http["sdk_ms_per_call"], "ms"))
    return rows, details


if __name__ == "__main__":
    result_rows, result = run()
    for name, value, unit in result_rows:
        print(f"{name:44s} {value:10.2f} {unit}")
