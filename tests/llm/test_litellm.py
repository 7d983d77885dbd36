"""LiteLLM against the local server over HTTP (runs where the ``litellm`` extra is
installed; CI leaves it out: 355 MB for one provider)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import pytest

import runtree as rt
from runtree.errors import ModelError
from runtree.llm import LiteLLM
from runtree.testing import LocalOpenAIServer, Reply, tool_call
from tests.llm.conftest import Sleeps
from tests.llm.tools import add

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("litellm") is None, reason="the litellm extra is not installed"
    ),
    # litellm's own code makes pydantic warn while it parses a stream
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]
Serve = Callable[..., LocalOpenAIServer]


def model_for(server: LocalOpenAIServer, **options: object) -> LiteLLM:
    return LiteLLM(f"openai/{server.model}", api_base=server.base_url, api_key="x", **options)


async def test_chat_tools_and_usage(serve: Serve) -> None:
    server = serve([Reply(tool_calls=[tool_call("add", a=1, b=2)], usage=(7, 3)), "3"])
    agent = rt.agent_node(tool_nodes=[add], llm=model_for(server))
    response = await rt.call(agent, "1+2?")
    assert response.text == "3"
    assert response.usage.requests == 2 and response.usage.input_tokens > 7
    assert server.requests[0]["tools"][0]["function"]["name"] == "add"


async def test_streaming(serve: Serve) -> None:
    server = serve([Reply("streamed by litellm", usage=(4, 3))])
    agent = rt.agent_node(llm=model_for(server))
    pieces = [e.text async for e in rt.stream(agent, "hi") if isinstance(e, rt.llm.TextDelta)]
    assert "".join(pieces) == "streamed by litellm"
    assert server.requests[0]["stream"] is True


async def test_errors_keep_the_providers_message(serve: Serve, sleeps: Sleeps) -> None:
    server = serve(
        [Reply.failure(429, "slow down", retry_after=1), "ok", Reply.failure(400, "bad")]
    )
    llm = model_for(server, sleep=sleeps)
    assert (await llm.chat("hi")).text == "ok"
    assert sleeps.delays and sleeps.delays[0] in (1.0, 0.5)
    with pytest.raises(ModelError, match="bad") as caught:
        await llm.chat("hi")
    assert caught.value.status_code == 400


def test_one_model_from_two_event_loops(serve: Serve) -> None:
    server = serve(["first", "second"])
    agent = rt.agent_node(llm=model_for(server))
    assert rt.call_sync(agent, "one").text == "first"
    assert rt.call_sync(agent, "two").text == "second"  # a new loop: litellm's clients too


def test_litellm_is_imported_offline() -> None:
    import os

    from runtree.llm.providers.litellm import import_litellm

    import_litellm()
    assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
