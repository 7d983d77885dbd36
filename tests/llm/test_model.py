"""Models: every call is a request with JSON-exact inputs and outputs; retries, fallbacks,
usage and the direct forms (chat, chat_with_tools, structured, stream_chat)."""

from __future__ import annotations

import json
import pickle

import pytest

import runtree as rt
from runtree.errors import ConfigurationError, ModelError
from runtree.llm import FallbackLLM, RetryPolicy, UserMessage
from runtree.testing import Reply, ScriptedLLM, tool_call
from tests.llm.conftest import Sleeps


async def test_a_model_call_is_a_request_with_json_exact_input_and_output() -> None:
    llm = ScriptedLLM([Reply("hello", usage=(7, 2), cost=0.5)])
    async with rt.Session(store=None) as run:
        response = await llm.chat("hi")
    assert response.text == "hello"
    assert response.usage == rt.llm.Usage(requests=1, input_tokens=7, output_tokens=2, cost=0.5)
    (record,) = run.info.root_requests()
    assert record.node_name == "chat scripted-model"
    (request,) = record.args
    assert request == {"model": "scripted-model", "messages": [{"role": "user", "content": "hi"}]}
    for value in (record.args, record.output):  # JSON in, JSON out: nothing needs a pickle
        assert json.loads(json.dumps(value)) == (list(value) if isinstance(value, tuple) else value)
    assert record.output["usage"] == {
        "input_tokens": 7,
        "output_tokens": 2,
        "total_tokens": 9,
        "cost": 0.5,
    }
    assert record.output["message"] == {"role": "assistant", "content": "hello"}


async def test_the_request_records_usage_and_attributes_in_details() -> None:
    llm = ScriptedLLM([Reply("ok", usage=(3, 4))], price_per_million=(1.0, 2.0))
    node = llm.node_class()(llm.build_request([UserMessage("hi")]))
    output = await node.tracked_invoke()
    assert output["usage"]["cost"] == pytest.approx((3 * 1.0 + 4 * 2.0) / 1e6)
    attributes = node.details["attributes"]
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "scripted"
    assert attributes["gen_ai.request.model"] == "scripted-model"
    assert attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert attributes["gen_ai.usage.input_tokens"] == 3
    assert attributes["gen_ai.usage.output_tokens"] == 4
    assert attributes["runtree.kind"] == "llm"
    assert attributes["runtree.attempt"] == 1
    assert attributes["runtree.usage.cost"] == pytest.approx(11e-6)
    assert node.details["usage"]["total_tokens"] == 7
    assert all(isinstance(v, (str, int, float, list)) for v in attributes.values())


async def test_transient_errors_retry_with_backoff_or_retry_after(sleeps: Sleeps) -> None:
    llm = ScriptedLLM(
        [
            Reply.failure(429, "slow down", retry_after=1.5),
            Reply.failure(503, "busy"),
            Reply("finally"),
        ],
        retry=RetryPolicy(max_attempts=3, base_delay=0.25),
        sleep=sleeps,
    )
    node = llm.node_class()(llm.build_request([UserMessage("hi")]))
    output = await node.tracked_invoke()
    assert output["message"]["content"] == "finally"
    assert sleeps.delays == [1.5, 0.5]  # Retry-After honoured, then backoff * 2
    assert node.details["attributes"]["runtree.attempt"] == 3


async def test_non_transient_errors_surface_at_once_with_the_providers_message(
    sleeps: Sleeps,
) -> None:
    llm = ScriptedLLM([Reply.failure(401, "invalid api key"), Reply("never")], sleep=sleeps)
    with pytest.raises(ModelError, match="invalid api key") as caught:
        await rt.call(llm.node_class(), llm.build_request([UserMessage("hi")]))
    assert caught.value.status_code == 401 and not caught.value.retryable
    assert sleeps.delays == [] and llm.script.remaining == 1
    clone = pickle.loads(pickle.dumps(caught.value))
    assert (clone.status_code, clone.provider, str(clone)) == (401, "scripted", str(caught.value))


async def test_retries_end_after_the_attempts_and_a_long_retry_after_is_not_waited(
    sleeps: Sleeps,
) -> None:
    policy = RetryPolicy(max_attempts=2, base_delay=0.5, max_delay=10)
    llm = ScriptedLLM([Reply.failure(500, "oops")] * 2, retry=policy, sleep=sleeps)
    with pytest.raises(ModelError, match="oops"):
        await llm.chat("hi")
    assert sleeps.delays == [0.5]
    patient = ScriptedLLM(
        [Reply.failure(429, "come back tomorrow", retry_after=86400)], retry=policy, sleep=sleeps
    )
    with pytest.raises(ModelError, match="tomorrow"):
        await patient.chat("hi")
    assert sleeps.delays == [0.5]


async def test_which_statuses_retry_is_an_option_of_the_model(sleeps: Sleeps) -> None:
    assert RetryPolicy is rt.policy.RetryPolicy  # one retry policy for nodes, graphs, models
    only_429 = ScriptedLLM(
        [Reply.failure(429, "later", retry_after=0), Reply.failure(503, "down"), "never"],
        retry_statuses={429},
        sleep=sleeps,
    )
    with pytest.raises(ModelError, match="down"):
        await only_429.chat("hi")
    assert sleeps.delays == [0.0] and only_429.script.remaining == 1
    with pytest.raises(ConfigurationError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


async def test_fallback_models_take_over_on_transient_failure(sleeps: Sleeps) -> None:
    no_retry = RetryPolicy(max_attempts=1)
    primary = ScriptedLLM([Reply.failure(503, "down")], model_name="primary", retry=no_retry)
    backup = ScriptedLLM(["from the backup"], model_name="backup")
    agent = rt.agent_node("Fallback", llm=[primary, backup])
    async with rt.Session(store=None) as run:
        response = await rt.call(agent, "hi")
    assert response.text == "from the backup"
    names = [(r.node_name, r.status) for _, r in run.info.walk()]
    assert names == [
        ("Fallback", "succeeded"),
        ("chat primary", "failed"),
        ("chat backup", "succeeded"),
    ]
    refused = ScriptedLLM([Reply.failure(400, "bad request")], model_name="primary")
    unused = ScriptedLLM(["never"], model_name="backup")
    with pytest.raises(ModelError, match="bad request"):
        await FallbackLLM([refused, unused]).chat("hi")
    assert unused.script.remaining == 1
    with pytest.raises(ConfigurationError):
        FallbackLLM([])


async def test_chat_with_tools_describes_the_tools_and_runs_nothing() -> None:
    from tests.llm.tools import add

    llm = ScriptedLLM([Reply(tool_calls=[tool_call("add", a=1, b=2)])])
    response = await llm.chat_with_tools([UserMessage("1+2?")], [add.tool_info()])
    (call,) = response.tool_calls
    assert (call.name, call.arguments) == ("add", {"a": 1, "b": 2})
    sent = llm.requests[0]["tools"][0]["function"]
    assert sent["name"] == "add" and sent["parameters"]["required"] == ["a", "b"]


async def test_stream_chat_yields_text_pieces_then_the_response() -> None:
    llm = ScriptedLLM([Reply("one two three", usage=(5, 3))])
    async with rt.Session(store=None) as run:
        items = [item async for item in llm.stream_chat("count")]
    *pieces, final = items
    assert pieces == ["one ", "two ", "three"]
    assert isinstance(final, rt.llm.Response) and final.text == "one two three"
    assert final.usage.output_tokens == 3
    assert rt.llm.run_usage(run).output_tokens == 3


async def test_model_options_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="model name"):
        ScriptedLLM(model_name="")
    with pytest.raises(ConfigurationError, match="structured_output"):
        ScriptedLLM(structured_output="magic")
    with pytest.raises(ConfigurationError, match="RetryPolicy"):
        ScriptedLLM(retry=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="sleep"):
        ScriptedLLM(sleep=1)  # type: ignore[arg-type]
