"""Messages and histories: the chat-protocol form, copies, and clear errors."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from runtree.llm import (
    AssistantMessage,
    MessageHistory,
    SystemMessage,
    ToolCall,
    ToolMessage,
    ToolResponse,
    UserMessage,
)
from runtree.llm.history import as_history
from runtree.llm.message import message_from_dict


def test_messages_round_trip_through_the_chat_protocol() -> None:
    history = MessageHistory(
        [
            SystemMessage("be brief"),
            UserMessage("2+3?"),
            AssistantMessage("adding", tool_calls=[ToolCall("c1", "add", {"a": 2, "b": 3})]),
            ToolMessage(ToolResponse("c1", "add", "5")),
            AssistantMessage("5"),
        ]
    )
    data = history.to_dicts()
    assert data[2] == {
        "role": "assistant",
        "content": "adding",
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "add", "arguments": '{"a":2,"b":3}'},
            }
        ],
    }
    assert data[3] == {"role": "tool", "tool_call_id": "c1", "name": "add", "content": "5"}
    assert MessageHistory.from_dicts(data) == history
    assert pickle.loads(pickle.dumps(history)) == history
    assert history.removed_system_messages()[0] == UserMessage("2+3?")


def test_railtracks_forms_of_assistant_messages() -> None:
    call = ToolCall("c1", "add", {"a": 1})
    message = AssistantMessage([call])
    assert message.content == [call] and message.tool_calls == [call] and message.text is None
    assert message.to_dict()["content"] is None
    assert AssistantMessage("hi").content == "hi"
    with pytest.raises(TypeError, match="text or a list of ToolCall"):
        AssistantMessage(42)  # type: ignore[arg-type]


def test_malformed_tool_arguments_are_kept_as_sent() -> None:
    call = ToolCall.from_raw("c1", "add", '{"a": 1,')
    assert call.arguments == {} and call.raw_arguments == '{"a": 1,'
    assert call.to_dict()["function"]["arguments"] == '{"a": 1,'


def test_bad_messages_are_refused_clearly() -> None:
    with pytest.raises(TypeError, match="UserMessage needs text"):
        UserMessage(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="wrap text in rt.llm.UserMessage"):
        MessageHistory(["hello"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="ToolResponse"):
        ToolMessage("5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown message role 'robot'"):
        message_from_dict({"role": "robot", "content": "x"})
    with pytest.raises(TypeError, match="an agent takes text"):
        as_history(3.5)


def test_as_history_copies() -> None:
    original = MessageHistory([UserMessage("hi")])
    copy = as_history(original)
    copy.append(UserMessage("more"))
    assert len(original) == 1
    multi = message_from_dict(
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    )
    assert multi == UserMessage("ab")


def test_import_runtree_loads_no_sdk_and_no_pydantic() -> None:
    code = (
        "import sys, runtree as rt\n"
        "rt.agent_node; rt.llm.MessageHistory; rt.testing.LocalOpenAIServer; rt.llm.OpenAILLM\n"
        "sdks = ('openai', 'pydantic', 'litellm', 'httpx', 'httpx2')\n"
        "bad = [m for m in sdks if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
