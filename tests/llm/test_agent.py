"""Agents: the node classes agent_node builds, the tool loop (every tool call a request,
run concurrently), bad model output going back to the model, limits, usage roll-up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import pytest

import runtree as rt
from runtree.errors import ConfigurationError, NodeDefinitionError, UsageLimitExceeded
from runtree.llm import MessageHistory, SystemMessage, ToolCallLLM, UserMessage
from runtree.testing import Reply, ScriptedLLM, tool_call
from tests.llm.tools import add, explode, shout


def tool_messages(response: Any) -> list[str]:
    return [m.content.result for m in response.message_history if m.role.value == "tool"]


async def test_agent_node_builds_the_class_that_fits() -> None:
    from pydantic import BaseModel

    class Answer(BaseModel):
        value: int

    llm = ScriptedLLM()
    assert issubclass(rt.agent_node(llm=llm), rt.TerminalLLM)
    assert issubclass(rt.agent_node(llm=llm, tool_nodes=[add]), rt.ToolCallLLM)
    assert issubclass(rt.agent_node(llm=llm, output_schema=Answer), rt.StructuredLLM)
    both = rt.agent_node("Calc", llm=llm, tool_nodes=[add], output_schema=Answer)
    assert issubclass(both, rt.StructuredToolCallLLM) and both.name() == "Calc"
    assert rt.agent_node(llm_model=llm).llm is llm  # railtracks 1.0's spelling
    with pytest.raises(ConfigurationError, match="not both"):
        rt.agent_node(llm=llm, llm_model=llm)
    with pytest.raises(ConfigurationError, match="llm must be a model"):
        rt.agent_node(llm="gpt-4o")
    with pytest.raises(NodeDefinitionError, match="pydantic model"):
        rt.agent_node(llm=llm, output_schema=dict)
    with pytest.raises(NodeDefinitionError, match="two tools are named 'add'"):
        rt.agent_node(llm=llm, tool_nodes=[add, add])
    with pytest.raises(NodeDefinitionError, match="must be a node class"):
        rt.agent_node(llm=llm, tool_nodes=[42])
    with pytest.raises(ConfigurationError, match="max_tool_calls"):
        rt.agent_node(llm=llm, max_tool_calls=-1)


async def test_a_conversation_with_tools_and_the_callers_history_untouched() -> None:
    llm = ScriptedLLM(
        [Reply(tool_calls=[tool_call("add", a=2, b=3), tool_call("shout", text="hi")]), "5, HI"]
    )
    agent = rt.agent_node("Helper", tool_nodes=[add, shout], llm=llm, system_message="be brief")
    history = MessageHistory([UserMessage("add 2 and 3, shout hi")])
    before = list(history)
    async with rt.Session(store=None) as run:
        response = await rt.call(agent, history)
    assert response.text == "5, HI" and response.content == "5, HI"
    assert list(history) == before  # the caller's history is never changed
    roles = [m.role.value for m in response.message_history]
    assert roles == ["system", "user", "assistant", "tool", "tool", "assistant"]
    assert tool_messages(response) == ["5", "HI"]
    assert [(c.name, r.result) for c, r in response.tool_invocations] == [
        ("add", "5"),
        ("shout", "HI"),
    ]
    tree = [(depth, r.node_name) for depth, r in run.info.walk()]
    assert tree == [
        (0, "Helper"),
        (1, "chat scripted-model"),
        (1, "add"),
        (1, "shout"),
        (1, "chat scripted-model"),
    ]
    add_record = run.info.children(run.info.roots[0])[1]
    assert add_record.kwargs == {"a": 2, "b": 3} and add_record.output == 5
    assert llm.requests[0]["messages"][0] == {"role": "system", "content": "be brief"}


async def test_the_agent_accepts_text_messages_lists_and_dicts() -> None:
    llm = ScriptedLLM(lambda request: Reply(f"{len(request['messages'])} messages"))
    agent = rt.agent_node(llm=llm)
    assert (await rt.call(agent, "hi")).text == "1 messages"
    assert (await rt.call(agent, UserMessage("hi"))).text == "1 messages"
    few_shot = [UserMessage("a"), rt.llm.AssistantMessage("b"), {"role": "user", "content": "c"}]
    assert (await rt.call(agent, user_input=few_shot)).text == "3 messages"
    with pytest.raises(TypeError, match="takes text"):
        await rt.call(agent, 42)


async def test_the_model_can_be_given_per_call() -> None:
    agent = rt.agent_node("NoModel")
    with pytest.raises(ConfigurationError, match="has no model"):
        await rt.call(agent, "hi")
    assert (await rt.call(agent, "hi", llm=ScriptedLLM(["per call"]))).text == "per call"


async def test_parallel_tool_calls_run_concurrently() -> None:
    running: list[str] = []
    all_in = asyncio.Event()  # set only when the three calls are running at once

    @rt.function_node
    async def wait_for_all(label: str) -> str:
        """Wait until the three calls are all running."""
        running.append(label)
        if len(running) == 3:
            all_in.set()
        await asyncio.wait_for(all_in.wait(), timeout=10)
        return label

    calls = [tool_call("wait_for_all", label=name) for name in "xyz"]
    agent = rt.agent_node(
        tool_nodes=[wait_for_all], llm=ScriptedLLM([Reply(tool_calls=calls), "done"])
    )
    response = await rt.call(agent, "go")
    assert tool_messages(response) == ["x", "y", "z"]


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (tool_call("add", '{"a": 1, "b": '), "are not valid JSON"),
        (tool_call("subtract", a=1, b=2), "there is no tool named 'subtract'; the tools are: add"),
        (tool_call("add", a=1), "miss required ['b']"),
        (tool_call("add", a=1, b=2, c=3), "have unknown ['c']"),
        (tool_call("add", a="one", b=2), "a='one', which is not of type integer"),
        (tool_call("add", "[1, 2]"), "must be a JSON object"),
        (tool_call("explode", reason="test"), "failed: ValueError: exploded: test"),
    ],
)
async def test_bad_model_output_goes_back_to_the_model(call: Any, expected: str) -> None:
    llm = ScriptedLLM([Reply(tool_calls=[call]), "sorry"])
    agent = rt.agent_node(tool_nodes=[add, explode], llm=llm)
    response = await rt.call(agent, "do it")
    assert response.text == "sorry"
    (result,) = tool_messages(response)
    assert result.startswith("Error:") and expected in result
    second = llm.requests[1]["messages"]  # the next request is valid: every call has a result
    assert (
        second[-1]["role"] == "tool"
        and second[-1]["tool_call_id"] == second[-2]["tool_calls"][0]["id"]
    )


async def test_tool_results_are_bounded() -> None:
    from runtree.llm.tool_loop import MAX_TOOL_RESULT_CHARS

    @rt.function_node
    def big() -> str:
        """Return a lot of text."""
        return "x" * (MAX_TOOL_RESULT_CHARS * 2)

    agent = rt.agent_node(
        tool_nodes=[big], llm=ScriptedLLM([Reply(tool_calls=[tool_call("big")]), "ok"])
    )
    (result,) = tool_messages(await rt.call(agent, "go"))
    assert len(result) < MAX_TOOL_RESULT_CHARS + 100
    assert result.endswith(f"[{MAX_TOOL_RESULT_CHARS} more characters cut]")


async def test_max_tool_calls_raises_a_clear_error() -> None:
    looping = ScriptedLLM(lambda request: Reply(tool_calls=[tool_call("add", a=1, b=1)]))
    agent = rt.agent_node("Looper", tool_nodes=[add], llm=looping, max_tool_calls=3)
    with pytest.raises(UsageLimitExceeded, match=r"'Looper' reached max_tool_calls=3"):
        await rt.call(agent, "loop")
    assert len(looping.requests) == 4  # three calls ran, the fourth was refused


async def test_usage_limits_per_agent_and_per_run() -> None:
    looping = ScriptedLLM(
        lambda request: Reply(tool_calls=[tool_call("add", a=1, b=1)], usage=(10, 5))
    )
    limited = rt.agent_node(
        "Limited", tool_nodes=[add], llm=looping, usage_limits=rt.llm.UsageLimits(requests=2)
    )
    with pytest.raises(UsageLimitExceeded, match="'Limited' reached its limit of 2 model requests"):
        await rt.call(limited, "go")
    assert len(looping.requests) == 2
    free = rt.agent_node("Free", tool_nodes=[add], llm=looping)
    async with rt.Session(store=None):
        with (
            rt.llm.limit_usage(total_tokens=40) as scope,
            pytest.raises(UsageLimitExceeded, match="40 total tokens"),
        ):
            await rt.call(free, "go")
    assert scope.usage.total_tokens == 45 and scope.usage.requests == 3
    with pytest.raises(ConfigurationError, match="non-negative"):
        rt.llm.UsageLimits(requests=-1)


async def test_usage_rolls_up_per_agent_subtree_and_run() -> None:
    inner = rt.agent_node("Inner", llm=ScriptedLLM([Reply("inner answer", usage=(100, 10))]))
    outer_llm = ScriptedLLM(
        [
            Reply(tool_calls=[tool_call("Inner", prompt="help")], usage=(1, 2)),
            Reply("outer answer", usage=(3, 4), cost=0.25),
        ]
    )
    outer = rt.agent_node("Outer", tool_nodes=[inner], llm=outer_llm)
    async with rt.Session(store=None) as run:
        response = await rt.call(outer, "go")
        total = rt.llm.run_usage()
    assert response.text == "outer answer"
    assert tool_messages(response) == ["inner answer"]
    assert response.usage == rt.llm.Usage(requests=3, input_tokens=104, output_tokens=16, cost=0.25)
    assert total == response.usage == rt.llm.usage_of(run.info)
    inner_request = next(r for _, r in run.info.walk() if r.node_name == "Inner")
    assert inner_request.output.usage == rt.llm.usage_of(run.info, inner_request.request_id)
    assert inner_request.output.usage.input_tokens == 100


async def test_an_agent_with_a_manifest_is_a_tool_with_its_parameters() -> None:
    manifest = rt.ToolManifest(
        description="Solves maths problems.",
        parameters=[rt.llm.Parameter(name="problem", type="string", description="the problem")],
    )
    solver_llm = ScriptedLLM(lambda request: Reply(f"solved {request['messages'][-1]['content']}"))
    solver = rt.agent_node("Math Solver", llm=solver_llm, manifest=manifest)
    info = solver.tool_info()
    assert (info.name, info.description) == ("Math_Solver", "Solves maths problems.")
    boss = rt.agent_node(
        tool_nodes=[solver],
        llm=ScriptedLLM([Reply(tool_calls=[tool_call("Math_Solver", problem="1+1")]), "2"]),
    )
    response = await rt.call(boss, "what is 1+1?")
    assert tool_messages(response) == ['solved {"problem": "1+1"}']


async def test_any_node_class_and_a_graph_are_tools() -> None:
    from runtree import graph as rg

    class Multiply(rt.Node[int]):
        """Multiply two numbers."""

        def __init__(self, a: int, b: int):
            super().__init__()
            self.a, self.b = a, b

        async def invoke(self) -> int:
            return self.a * self.b

    class Double(rg.Node):
        def prep(self, shared: Any) -> Any:
            return shared["value"]

        def exec(self, prep_res: Any) -> Any:
            return prep_res * 2

        def post(self, shared: Any, prep_res: Any, exec_res: Any) -> None:
            shared["value"] = exec_res

    graph = rg.Graph(Double(), name="doubler")
    llm = ScriptedLLM(
        [
            Reply(
                tool_calls=[
                    tool_call("Multiply", a=6, b=7),
                    tool_call("doubler", inputs={"value": 21}),
                ]
            ),
            "done",
        ]
    )
    agent = rt.agent_node(tool_nodes=[Multiply, graph], llm=llm)
    response = await rt.call(agent, "go")
    results = tool_messages(response)
    assert results[0] == "42"
    assert json.loads(results[1]) == {"result": 42, "shared": {"value": 42}}
    tools = {t["function"]["name"]: t["function"] for t in llm.requests[0]["tools"]}
    assert tools["Multiply"]["description"] == "Multiply two numbers."
    assert tools["Multiply"]["parameters"]["required"] == ["a", "b"]
    assert "doubler" in tools


async def test_tool_requests_carry_the_tool_call_attributes() -> None:
    seen: list[Mapping[str, Any]] = []

    class Spy(rt.Node[str]):
        """Report the attributes of its own request."""

        def __init__(self, word: str):
            super().__init__()
            self.word = word

        async def invoke(self) -> str:
            await asyncio.sleep(0)
            return self.word

        async def tracked_invoke(self) -> str:
            result = await super().tracked_invoke()
            seen.append(dict(self.details.get("attributes", {})))
            return result

    llm = ScriptedLLM([Reply(tool_calls=[tool_call("Spy", word="hi", id="call-9")]), "ok"])
    await rt.call(rt.agent_node(tool_nodes=[Spy], llm=llm), "go")
    assert seen == [
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "Spy",
            "gen_ai.tool.call.id": "call-9",
            "runtree.kind": "tool",
        }
    ]


async def test_a_node_described_by_a_json_schema_is_a_tool() -> None:
    """The shape of MCP tool nodes: tool_info() with a JSON schema, keyword arguments."""

    class RemoteSearch(rt.Node[dict[str, Any]]):
        @classmethod
        def tool_info(cls) -> rt.llm.Tool:
            return rt.llm.Tool(
                name="search",
                description="Search the web.",
                json_schema={
                    "type": "object",
                    "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
                    "required": ["query"],
                },
            )

        def __init__(self, **arguments: Any):
            super().__init__()
            self.arguments = arguments

        async def invoke(self) -> dict[str, Any]:
            return {"hits": [self.arguments["query"]] * self.arguments.get("limit", 1)}

    llm = ScriptedLLM(
        [
            Reply(
                tool_calls=[
                    tool_call("search", query="runtree", limit=2),
                    tool_call("search", limit=2),
                ]
            ),
            "found",
        ]
    )
    response = await rt.call(rt.agent_node(tool_nodes=[RemoteSearch], llm=llm), "look")
    ok, missing = tool_messages(response)
    assert json.loads(ok) == {"hits": ["runtree", "runtree"]}
    assert "miss required ['query']" in missing
    assert llm.requests[0]["tools"][0]["function"]["parameters"]["required"] == ["query"]


async def test_a_subclass_configures_an_agent_like_agent_node() -> None:
    class Greeter(ToolCallLLM):
        llm = ScriptedLLM([Reply(tool_calls=[tool_call("shout", text="hello")]), "HELLO said"])
        system_message = SystemMessage("greet loudly")
        tool_nodes = (shout,)

    response = await rt.call(Greeter, "greet")
    assert response.text == "HELLO said" and Greeter.name() == "Greeter"
    (sent_tool,) = Greeter.llm.requests[0]["tools"]
    assert sent_tool["function"]["parameters"]["required"] == ["text"]


@pytest.mark.parametrize("execution_mode", ["async", "thread", "process"])
async def test_agents_run_on_every_strategy(execution_mode: str) -> None:
    llm = ScriptedLLM([Reply(tool_calls=[tool_call("add", a=1, b=2)]), "3"])
    agent = rt.agent_node(tool_nodes=[add], llm=llm)
    async with rt.Session(store=None, execution_mode=execution_mode) as run:
        response = await rt.call(agent, "1+2")
    assert response.text == "3"
    modes = {r.node_name: r.mode for _, r in run.info.walk()}
    # agents and model calls wait on I/O: they stay on the loop; tools take the session's mode
    assert modes == {"ToolCallLLM": "async", "chat scripted-model": "async", "add": execution_mode}


async def test_requests_carry_their_attributes_in_the_run_tree() -> None:
    llm = ScriptedLLM([Reply(tool_calls=[tool_call("add", a=1, b=2, id="c-1")]), "3"])
    async with rt.Session(store=None) as run:
        await rt.call(rt.agent_node("Summer", tool_nodes=[add], llm=llm), "1+2")
    by_name = {}
    for _, record in run.info.walk():
        by_name.setdefault(record.node_name, record.attributes)
    assert by_name["Summer"] == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "Summer",
        "runtree.kind": "agent",
    }
    assert by_name["add"] == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "add",
        "gen_ai.tool.call.id": "c-1",
        "runtree.kind": "tool",
    }
    chat = by_name["chat scripted-model"]
    assert chat["gen_ai.operation.name"] == "chat" and chat["runtree.kind"] == "llm"
    assert chat["gen_ai.usage.input_tokens"] > 0 and chat["gen_ai.response.finish_reasons"] == [
        "tool_calls"
    ]
