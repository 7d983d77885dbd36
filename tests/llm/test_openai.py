"""OpenAILLM drives the real openai SDK over HTTP against the local server."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable

import pytest

import runtree as rt
from runtree.errors import ConfigurationError, ModelError
from runtree.llm import OllamaLLM, OpenAILLM, RetryPolicy, UserMessage
from runtree.testing import LocalOpenAIServer, Reply, tool_call
from tests.llm.conftest import Sleeps
from tests.llm.tools import add

Serve = Callable[..., LocalOpenAIServer]


async def test_chat_over_http(serve: Serve) -> None:
    server = serve([Reply("Hello there", usage=(12, 3), cost=0.001)])
    async with rt.Session(store=None):
        response = await server.llm(temperature=0.2, seed=7).chat("hi")
    assert response.text == "Hello there"
    assert response.usage == rt.llm.Usage(requests=1, input_tokens=12, output_tokens=3, cost=0.001)
    assert response.model == server.model and response.id == "chatcmpl-1"
    (sent,) = server.requests
    assert sent["messages"] == [{"role": "user", "content": "hi"}]
    assert sent["temperature"] == 0.2 and sent["seed"] == 7 and "stream" not in sent


async def test_a_model_dropped_while_its_loop_runs_closes_its_connections(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    unraisable: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: unraisable.append(repr(u.exc_value)))
    server = serve([Reply("one"), Reply("two")])
    llm = server.llm()
    assert (await llm.chat("hi")).text == "one"  # a connection is open in this loop's pool
    del llm
    gc.collect()  # the model is gone; its client must not be collected with an open socket
    for _ in range(20):
        await asyncio.sleep(0)  # the client closes on this loop
    gc.collect()
    assert unraisable == []
    assert (await server.llm().chat("hi")).text == "two"  # the server is fine


async def test_tool_calls_over_http(serve: Serve) -> None:
    server = serve([Reply("thinking", tool_calls=[tool_call("add", a=2, b=3)])])
    response = await server.llm().chat_with_tools("2+3?", [add.tool_info()])
    assert response.text == "thinking"
    (call,) = response.tool_calls
    assert (call.identifier, call.name, call.arguments) == ("call_0_0", "add", {"a": 2, "b": 3})
    assert response.finish_reason == "tool_calls"
    assert server.requests[0]["tools"][0]["function"]["name"] == "add"


async def test_streaming_over_http_assembles_text_tool_arguments_and_usage(
    serve: Serve,
) -> None:
    server = serve([Reply("let me add", tool_calls=[tool_call("add", a=20, b=22)], usage=(30, 9))])
    llm = server.llm()
    events = []
    async with rt.Session(store=None) as run:
        stream = rt.stream(llm.node_class(), llm.build_request([UserMessage("20+22?")]))
        async for event in stream:
            events.append(event)
    sent = server.requests[0]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    kinds = [type(e).__name__ for e in events]
    assert kinds[:3] == ["TextDelta", "TextDelta", "TextDelta"]
    assert "ToolCallStarted" in kinds and kinds.count("ToolCallDelta") >= 2
    assert kinds[-1] == "ModelCallFinished"
    arguments = "".join(e.arguments for e in events if type(e).__name__ == "ToolCallDelta")
    assert arguments == '{"a":20,"b":22}'
    output = stream.result
    assert output["message"]["tool_calls"][0]["function"]["arguments"] == arguments
    assert output["message"]["content"] == "let me add"
    assert output["usage"]["input_tokens"] == 30 and output["usage"]["output_tokens"] == 9
    (record,) = run.info.root_requests()
    assert events[0].request_id == record.request_id and events[0].path == (record.request_id,)


async def test_a_429_waits_for_retry_after_then_succeeds(serve: Serve, sleeps: Sleeps) -> None:
    server = serve([Reply.failure(429, "rate limited", retry_after=2), Reply("ok")])
    llm = server.llm(sleep=sleeps)
    response = await llm.chat("hi")
    assert response.text == "ok" and sleeps.delays == [2.0] and len(server.requests) == 2


async def test_a_refusal_surfaces_at_once_with_the_servers_message(
    serve: Serve, sleeps: Sleeps
) -> None:
    server = serve([Reply.failure(400, "messages[0] is not valid"), Reply("never")])
    llm = server.llm(sleep=sleeps)
    with pytest.raises(ModelError, match=r"HTTP 400: messages\[0\] is not valid") as caught:
        await llm.chat("hi")
    assert caught.value.status_code == 400 and caught.value.provider == "openai"
    assert sleeps.delays == [] and len(server.requests) == 1


async def test_an_unreachable_server_is_retried_then_named(sleeps: Sleeps) -> None:
    server = LocalOpenAIServer().start()
    base_url = server.base_url
    server.stop()  # nothing listens there any more
    llm = OpenAILLM(
        "m", base_url=base_url, retry=RetryPolicy(max_attempts=2, base_delay=0.5), sleep=sleeps
    )
    with pytest.raises(ModelError, match="cannot reach") as caught:
        await llm.chat("hi")
    assert caught.value.status_code is None and caught.value.retryable
    assert sleeps.delays == [0.5]


async def test_a_missing_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        await OpenAILLM("gpt-4o").chat("hi")


def test_ollama_preset_points_at_the_local_server(monkeypatch: pytest.MonkeyPatch) -> None:
    assert OllamaLLM("llama3").base_url == "http://localhost:11434/v1"
    monkeypatch.setenv("OLLAMA_HOST", "10.0.0.5:9999")
    assert OllamaLLM("llama3").base_url == "http://10.0.0.5:9999/v1"
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://127.0.0.1:1/v1")
    assert OllamaLLM("llama3").base_url == "http://127.0.0.1:1/v1"
    assert OllamaLLM("llama3").model_type() == "ollama"


def test_openai_reads_its_base_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:2/v1")
    assert OpenAILLM("m").base_url == "http://127.0.0.1:2/v1"


def test_the_same_model_works_from_two_event_loops(serve: Serve) -> None:
    server = serve(["first", "second"])
    llm = server.llm()
    first = rt.call_sync(rt.agent_node("A", llm=llm), "one")
    second = rt.call_sync(rt.agent_node("A", llm=llm), "two")  # a new loop: a new client
    assert (first.text, second.text) == ("first", "second")
