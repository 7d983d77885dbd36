"""Token streaming: typed events from rt.stream, with the request path of nested agents,
also delivered to broadcast_callback; rt.stream for any node."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import runtree as rt
from runtree.errors import SessionStateError
from runtree.llm import (
    FinalResponse,
    ModelCallFinished,
    TextDelta,
    ToolCallDelta,
    ToolCallResult,
    ToolCallStarted,
)
from runtree.testing import LocalOpenAIServer, Reply, ScriptedLLM, tool_call
from tests.llm.tools import add

Serve = Callable[..., LocalOpenAIServer]


def nested_agents(llm_for: Callable[[str, list[Any]], Any]) -> Any:
    inner = rt.agent_node("Inner", llm=llm_for("inner", [Reply("inner says hi", usage=(4, 3))]))
    outer = rt.agent_node(
        "Outer",
        tool_nodes=[inner, add],
        llm=llm_for(
            "outer",
            [
                Reply("Let me ask.", tool_calls=[tool_call("Inner", prompt="hello")]),
                Reply("All done.", usage=(9, 2)),
            ],
        ),
    )
    return outer


async def test_events_of_nested_agents_carry_their_request_path(serve: Serve) -> None:
    servers: dict[str, LocalOpenAIServer] = {}

    def llm_for(name: str, script: list[Any]) -> Any:
        servers[name] = serve(script)
        return servers[name].llm()

    outer = nested_agents(llm_for)
    received: list[Any] = []
    async with rt.Session(store=None, broadcast_callback=received.append) as run:
        stream = rt.stream(outer, "hi")
        events = [event async for event in stream]
    response = stream.result
    assert response.text == "All done."
    ids = {r.node_name: r.request_id for _, r in run.info.walk()}
    outer_id, inner_id = ids["Outer"], ids["Inner"]
    chats = [r for _, r in run.info.walk() if r.node_name.startswith("chat ")]
    first_chat, inner_chat, last_chat = (c.request_id for c in chats)
    inner_texts = [e for e in events if isinstance(e, TextDelta) and inner_id in e.path]
    assert "".join(e.text for e in inner_texts) == "inner says hi"
    assert inner_texts[0].path == (outer_id, ids["Inner"], inner_chat)
    # the text before the tool call streams, but the answer is decided after the loop
    texts = [e for e in events if isinstance(e, TextDelta) and e.request_id == first_chat]
    assert "".join(e.text for e in texts) == "Let me ask."
    finals = [e for e in events if isinstance(e, FinalResponse)]
    assert [(f.agent, f.text, f.path) for f in finals] == [
        ("Inner", "inner says hi", (outer_id, inner_id)),
        ("Outer", "All done.", (outer_id,)),
    ]
    assert isinstance(events[-1], FinalResponse) and events[-1].agent == "Outer"
    started = next(e for e in events if isinstance(e, ToolCallStarted))
    assert (started.name, started.path) == ("Inner", (outer_id, first_chat))
    deltas = "".join(e.arguments for e in events if isinstance(e, ToolCallDelta))
    assert deltas == '{"prompt":"hello"}'
    (result,) = [e for e in events if isinstance(e, ToolCallResult)]
    assert (result.result, result.path) == ("inner says hi", (outer_id,))
    finished = [e for e in events if isinstance(e, ModelCallFinished)]
    assert [e.request_id for e in finished] == [first_chat, inner_chat, last_chat]
    assert finished[-1].usage["input_tokens"] == 9  # streamed replies report usage too
    assert rt.llm.run_usage(run).requests == 3
    assert received == events  # the same items reached the session's broadcast_callback


async def test_order_of_events_in_one_turn() -> None:
    llm = ScriptedLLM(
        [Reply("Adding.", tool_calls=[tool_call("add", a=1, b=2)]), Reply("It is 3.")]
    )
    agent = rt.agent_node("Adder", tool_nodes=[add], llm=llm)
    events = [event async for event in rt.stream(agent, "1+2")]
    kinds = [type(e).__name__ for e in events]
    first_turn = kinds[: kinds.index("ModelCallFinished") + 1]
    assert first_turn[0] == "TextDelta" and first_turn[-1] == "ModelCallFinished"
    assert first_turn.index("ToolCallStarted") < first_turn.index("ToolCallDelta")
    assert kinds[kinds.index("ModelCallFinished") + 1] == "ToolCallResult"
    assert kinds[-1] == "FinalResponse"


async def test_stream_works_for_any_node_and_re_raises_its_error() -> None:
    @rt.function_node
    async def count(n: int) -> str:
        for i in range(n):
            await rt.broadcast(i)
        return "counted"

    stream = rt.stream(count, 3)
    with pytest.raises(SessionStateError, match="not ended"):
        _ = stream.result
    assert [item async for item in stream] == [0, 1, 2]
    assert stream.result == "counted"
    with pytest.raises(SessionStateError, match="already consumed"):
        async for _ in stream:
            pass
    assert await rt.stream(count, 2) == "counted"

    @rt.function_node
    async def fail() -> None:
        await rt.broadcast("before")
        raise ValueError("broken")

    seen = []
    with pytest.raises(ValueError, match="broken"):
        async for item in rt.stream(fail):
            seen.append(item)
    assert seen == ["before"]


async def test_leaving_the_loop_early_cancels_the_call() -> None:
    cancelled = asyncio.Event()

    @rt.function_node
    async def endless() -> None:
        try:
            for i in range(1_000_000):
                await rt.broadcast(i)
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with rt.Session(store=None) as run:
        async for item in rt.stream(endless):
            if item == 5:
                break
        await asyncio.wait_for(cancelled.wait(), timeout=10)
    assert run.info.root_requests()[0].status == "cancelled"


async def test_calls_outside_the_stream_are_not_in_it() -> None:
    @rt.function_node
    async def say(word: str) -> str:
        await rt.broadcast(word)
        return word

    async with rt.Session(store=None):
        stream = rt.stream(say, "inside")
        other = asyncio.ensure_future(rt.call(say, "outside"))
        items = [item async for item in stream]
        await other
    assert items == ["inside"]


async def test_without_a_stream_consumer_the_model_is_not_streamed(serve: Serve) -> None:
    server = serve(["plain"])
    await rt.call(rt.agent_node(llm=server.llm()), "hi")
    assert "stream" not in server.requests[0]
    always = serve(["streamed"])
    await rt.call(rt.agent_node(llm=always.llm(stream=True)), "hi")
    assert always.requests[0]["stream"] is True
