"""Structured output with tools on an OpenAI-compatible server: native JSON schema, a final
answer tool, or prompted JSON; invalid replies go back with the validation error."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

import runtree as rt
from runtree.errors import StructuredOutputError
from runtree.testing import LocalOpenAIServer, Reply, ScriptedLLM, tool_call
from tests.llm.tools import add

Serve = Callable[..., LocalOpenAIServer]


class Sum(BaseModel):
    """The result of an addition."""

    total: int
    explanation: str


ANSWER = {"total": 5, "explanation": "2 plus 3"}


def first_add_then(answer: Callable[[dict[str, Any]], Reply]) -> Callable[[Any], Reply]:
    """A model that calls add(2, 3) first, then answers with ``answer(request)``."""

    def reply(request: Any) -> Reply:
        if not any(m["role"] == "tool" for m in request["messages"]):
            return Reply(tool_calls=[tool_call("add", a=2, b=3)])
        return answer(request)

    return reply


async def test_native_json_schema_with_tools(serve: Serve) -> None:
    server = serve(first_add_then(lambda request: Reply(json.dumps(ANSWER))))
    agent = rt.agent_node(tool_nodes=[add], output_schema=Sum, llm=server.llm())
    response = await rt.call(agent, "2+3?")
    assert isinstance(response.structured, Sum) and response.structured.total == 5
    assert json.loads(response.text) == ANSWER
    for sent in server.requests:
        assert sent["response_format"]["type"] == "json_schema"
        assert sent["response_format"]["json_schema"]["schema"]["required"] == [
            "total",
            "explanation",
        ]
        assert [t["function"]["name"] for t in sent["tools"]] == ["add"]


async def test_a_final_answer_tool_where_json_schema_is_refused(serve: Serve) -> None:
    def answer(request: Any) -> Reply:
        assert request["tool_choice"] == "required"
        return Reply(tool_calls=[tool_call("final_answer", ANSWER)])

    server = serve(first_add_then(answer), supports_json_schema=False)
    llm = server.llm()
    agent = rt.agent_node(tool_nodes=[add], output_schema=Sum, llm=llm)
    async with rt.Session(store=None) as run:
        response = await rt.call(agent, "2+3?")
    assert response.structured == Sum(**ANSWER)
    names = [[t["function"]["name"] for t in r.get("tools", [])] for r in server.requests]
    assert names == [["add"], ["add", "final_answer"], ["add", "final_answer"]]
    assert [r.status for _, r in run.info.walk()][1] == "failed"  # the refused request
    history = response.message_history
    assert history[-1].role.value == "tool"  # the answer call got its result too
    assert llm.structured_mode_override == "tool"  # remembered: not asked again
    again = serve(first_add_then(answer), supports_json_schema=False)
    llm.base_url = again.base_url
    llm._clients.clear()
    await rt.call(agent, "2+3?")
    assert "response_format" not in again.requests[0]


async def test_prompted_json_where_neither_is_supported(serve: Serve) -> None:
    server = serve(
        lambda request: Reply("Here it is:\n```json\n" + json.dumps(ANSWER) + "\n```"),
        supports_json_schema=False,
        supports_tools=False,
    )
    agent = rt.agent_node(output_schema=Sum, llm=server.llm())
    response = await rt.call(agent, "2+3?")
    assert response.structured == Sum(**ANSWER)
    last = server.requests[-1]
    assert "tools" not in last and "response_format" not in last
    assert "JSON schema" in last["messages"][0]["content"]


async def test_an_invalid_reply_goes_back_with_the_validation_error() -> None:
    llm = ScriptedLLM(['{"total": "five"}', json.dumps(ANSWER)])
    agent = rt.agent_node(output_schema=Sum, llm=llm)
    response = await rt.call(agent, "2+3?")
    assert response.structured.total == 5
    feedback = llm.requests[1]["messages"][-1]
    assert feedback["role"] == "user" and "total" in feedback["content"]
    assert "does not fit" in feedback["content"]


async def test_an_invalid_answer_tool_call_gets_the_error_as_its_result() -> None:
    llm = ScriptedLLM(
        [
            Reply(tool_calls=[tool_call("final_answer", total="x")]),
            Reply(tool_calls=[tool_call("final_answer", ANSWER)]),
        ],
        structured_output="tool",
    )
    response = await rt.call(rt.agent_node(output_schema=Sum, llm=llm), "2+3?")
    assert response.structured == Sum(**ANSWER)
    error = llm.requests[1]["messages"][-1]
    assert error["role"] == "tool" and "does not fit the schema" in error["content"]


async def test_the_retry_budget_ends_with_a_clear_error() -> None:
    llm = ScriptedLLM(lambda request: Reply("no json here"), structured_output="prompt")
    agent = rt.agent_node("Stubborn", output_schema=Sum, llm=llm, structured_retries=1)
    with pytest.raises(StructuredOutputError, match="'Stubborn'.*after 2 tries"):
        await rt.call(agent, "2+3?")
    assert len(llm.requests) == 2


async def test_model_structured_parses_one_reply() -> None:
    llm = ScriptedLLM([json.dumps(ANSWER)])
    response = await llm.structured("2+3?", Sum)
    assert response.structured == Sum(**ANSWER)
