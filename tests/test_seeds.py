"""Every code example of seeds 000, 001, 002 and 004, with `railtracks` -> `runtree`.

The seeds refer to user nodes as `rt.nodes.MyNode` / `rt.nodes.ChatNode` and to helpers such
as `transport(state)` and `handle(result)`; the tests define those and nothing else.
"""

from __future__ import annotations

import asyncio
import pickle

import pytest

import runtree as rt
from runtree.nodes import Node
from tests.support import Adder


class NodeA(Node[str]):
    def __init__(self, text: str, number: int = 0):
        super().__init__()
        self.text, self.number = text, number

    async def invoke(self) -> str:
        return f"{self.text}:{self.number}"


@pytest.fixture
def seed_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The seeds call `rt.nodes.MyNode` and `rt.nodes.ChatNode`: user nodes put there."""

    class MyNode(Node[str]):
        def __init__(self, text: str):
            super().__init__()
            self.text = text

        async def invoke(self) -> str:
            return self.text.upper()

    class ChatNode(Node[str]):
        def __init__(self, text: str):
            super().__init__()
            self.text = text

        async def invoke(self) -> str:
            await rt.broadcast(f"thinking about {self.text!r}")
            return "Hello!"

    monkeypatch.setattr(rt.nodes, "MyNode", MyNode, raising=False)
    monkeypatch.setattr(rt.nodes, "ChatNode", ChatNode, raising=False)


# -- seed 000: node interaction -------------------------------------------------------------


async def test_seed_000_batch() -> None:
    from runtree.interaction import call_batch

    handled = []

    def handle(result: str) -> None:
        handled.append(result)

    results = await call_batch(NodeA, ["hello world"] * 10)
    for result in results:
        handle(result)
    assert handled == ["hello world:0"] * 10


async def test_seed_000_async_call_and_broadcast() -> None:
    from runtree.interaction import broadcast, call

    result = await call(NodeA, "hello world", 42)
    assert result == "hello world:42"
    await broadcast("streaming data")  # outside a session: nobody listens, nothing fails


def test_seed_000_sync_call() -> None:
    from runtree.interaction import call_sync

    result = call_sync(NodeA, "hello world", 42)
    assert result == "hello world:42"


# -- seed 001: node management --------------------------------------------------------------


async def test_seed_001_simple_node_and_latency() -> None:
    node = Adder(3, 4)
    result = await node.tracked_invoke()
    assert result == 7
    assert isinstance(node.details["latency"].total_time, float)
    assert node.details["latency"].total_time >= 0


async def test_seed_001_node_state_across_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    from runtree.nodes import NodeState

    node = Adder(3, 4)
    sent: list[bytes] = []

    def transport(state: NodeState[Adder]) -> None:
        sent.append(state.to_bytes())

    state = NodeState(node)
    transport(state)
    new_node = state.instantiate()
    assert await new_node.invoke() == 7
    received = NodeState.from_bytes(sent[0]).instantiate()
    assert isinstance(received, Adder) and await received.invoke() == 7
    monkeypatch.setenv("RT_NODE_SERIALISATION_FMT", "pickle")
    payload = state.to_bytes()
    assert NodeState.from_bytes(payload, allow_pickle=True).instantiate().a == 3


async def test_seed_001_node_builder() -> None:
    from runtree.nodes import NodeBuilder

    custom_adder = (
        NodeBuilder(Adder, class_name="BigAdder")
        .override_attrs(name=lambda cls: "Big Adder")
        .build()
    )
    assert custom_adder.name() == "Big Adder"
    assert custom_adder.__name__ == "BigAdder"
    assert await rt.call(custom_adder, 1, 2) == 3


def test_seed_001_tool() -> None:
    class AdderTool(Adder):
        @classmethod
        def tool_info(cls):  # type: ignore[no-untyped-def]
            from runtree.llm.tools import Parameter, Tool

            return Tool(
                name=cls.name(),
                description="Adds two integers",
                parameters=[
                    Parameter(name="a", type="int", description="first operand"),
                    Parameter(name="b", type="int", description="second operand"),
                ],
            )

    info = AdderTool.tool_info()
    assert info.name == "Adder"
    assert info.to_json_schema()["properties"]["a"] == {
        "type": "integer",
        "description": "first operand",
    }
    node = AdderTool.prepare_tool({"a": 1, "b": 2})
    assert (node.a, node.b) == (1, 2)


# -- seed 002: task execution ---------------------------------------------------------------


def test_seed_002_session_call_sync(seed_nodes: None) -> None:
    with rt.Session() as run:
        result = rt.call_sync(rt.nodes.MyNode, "Hello world!")
    assert result == "HELLO WORLD!"
    assert run.info.answer == "HELLO WORLD!"


async def test_seed_002_manual_coordination() -> None:
    from runtree.execution.coordinator import Coordinator
    from runtree.execution.execution_strategy import AsyncioExecutionStrategy
    from runtree.execution.task import Task
    from runtree.pubsub.messages import RequestSuccess
    from runtree.pubsub.publisher import RTPublisher

    my_node = Adder(2, 3)
    publisher = RTPublisher()
    seen: list[object] = []
    publisher.subscribe(seen.append)
    coordinator = Coordinator(execution_modes={"async": AsyncioExecutionStrategy()})
    coordinator.start(publisher)  # attach subscriber

    task = Task(request_id="abc123", node=my_node)
    response = await coordinator.submit(task, mode="async")  # returns RequestSuccess/Failure
    assert isinstance(response, RequestSuccess)
    assert response.result == 5 and response.request_id == "abc123"
    assert coordinator.state.jobs["abc123"].status == "succeeded"
    await publisher.aclose()
    assert seen == [response]


def test_seed_002_streaming(seed_nodes: None) -> None:
    from runtree.pubsub import stream_subscriber

    lines: list[str] = []

    def ui_handler(text: str) -> None:
        lines.append(text)

    assert callable(stream_subscriber(ui_handler))
    with rt.Session(broadcast_callback=ui_handler):
        rt.call_sync(rt.nodes.ChatNode, "Hi!")
    assert lines == ["thinking about 'Hi!'"]


# -- seed 004: state management -------------------------------------------------------------


async def test_seed_004_call_nodes_and_errors(caplog: pytest.LogCaptureFixture) -> None:
    from runtree.execution.coordinator import Coordinator
    from runtree.pubsub.publisher import RTPublisher
    from runtree.runtime import ExecutorConfig
    from runtree.state.info import ExecutionInfo
    from runtree.state.state import RTState

    execution_info = ExecutionInfo(run_id="seed-004")
    executor_config = ExecutorConfig()
    publisher = RTPublisher()
    coordinator = Coordinator()
    coordinator.start(publisher)
    state = RTState(execution_info, executor_config, coordinator, publisher)
    my_node = Adder
    result = await state.call_nodes(
        parent_node_id="node_1", request_id=None, node=my_node, args=(1, 2), kwargs={}
    )
    assert result == 3

    from tests.support import Failing

    my_node = Failing  # type: ignore[assignment]
    with caplog.at_level("INFO", logger="runtree"):
        try:
            await state.call_nodes(
                parent_node_id="node_1", request_id=None, node=my_node, args=(), kwargs={}
            )
        except Exception as e:
            state.logger.error("An error occurred", exc_info=e)
    assert "An error occurred" in caplog.text
    assert [r.status for r in execution_info.requests.values()] == ["succeeded", "failed"]
    await publisher.aclose()


def test_seed_messages_pickle() -> None:
    from runtree.pubsub.messages import RequestFailure

    failure = RequestFailure(
        request_id="r", node_name="n", start_time=1.0, end_time=2.0, error=ValueError("x")
    )
    assert "FAILED" in failure.log_message()
    clone = pickle.loads(pickle.dumps(failure))
    assert clone.request_id == "r" and isinstance(clone.error, ValueError)
    assert asyncio.iscoroutinefunction(rt.call)
