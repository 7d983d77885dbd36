from __future__ import annotations

import pytest

import runtree as rt
from runtree.nodes import DebugDetails, Node, NodeBuilder
from tests.support import Adder, Boom, Failing, SyncAdder


def test_malformed_classes_fail_at_creation() -> None:
    with pytest.raises(rt.NodeDefinitionError, match="name must be a @classmethod"):

        class BadName(Node[int]):
            def name(self) -> str:  # type: ignore[override]
                return "x"

    with pytest.raises(
        rt.NodeDefinitionError, match=r"invoke takes required argument\(s\) \['x'\]"
    ):

        class BadInvoke(Node[int]):
            async def invoke(self, x: int) -> int:  # type: ignore[override]
                return x

    with pytest.raises(rt.NodeDefinitionError, match="execution_mode must be a string"):

        class BadMode(Node[int]):
            execution_mode = 3  # type: ignore[assignment]


def test_builder_validates_and_makes_classmethods() -> None:
    built = NodeBuilder(Adder, class_name="Renamed").override_attrs(name=lambda cls: "R").build()
    assert built.name() == "R" and issubclass(built, Adder)
    with pytest.raises(rt.NodeDefinitionError, match="identifier"):
        NodeBuilder(Adder, class_name="not valid")
    with pytest.raises(rt.NodeDefinitionError, match="Node subclass"):
        NodeBuilder(int)  # type: ignore[type-var]


async def test_sync_invoke_is_wrapped() -> None:
    node = SyncAdder(1, 2)
    assert await node.invoke() == 3
    assert await node.tracked_invoke() == 3


async def test_failure_details_and_unchanged_exception() -> None:
    node = Failing("bad")
    with pytest.raises(Boom, match="bad"):
        await node.tracked_invoke()
    assert node.details["latency"].total_time >= 0
    debug = node.details["debug"]
    assert isinstance(debug, DebugDetails)
    assert debug.exception_type == "Boom" and not debug.verbose


async def test_verbose_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RT_NODE_DEBUG", "true")
    rt.nodes.settings.reload()
    node = Adder(1, 2)
    await node.tracked_invoke()
    debug = node.details["debug"]
    assert debug.verbose and debug.params == {"a": "1", "b": "2"} and debug.output == "3"
    failing = Failing("why")
    with pytest.raises(Boom):
        await failing.tracked_invoke()
    assert "Boom: why" in (failing.details["debug"].traceback or "")
    monkeypatch.setenv("RT_NODE_DEBUG", "maybe")
    with pytest.raises(rt.ConfigurationError, match="RT_NODE_DEBUG"):
        rt.nodes.settings.reload()
    monkeypatch.delenv("RT_NODE_DEBUG")


def test_uuid_is_stable_and_settable() -> None:
    node = Adder(1, 1)
    assert node.uuid == node.uuid and len(node.uuid) == 32
    node.uuid = "req-1"
    assert node.uuid == "req-1"
    assert repr(node) == "<Adder node 'Adder'>"


def test_prepare_tool_checks_names() -> None:
    class Tooly(Adder):
        @classmethod
        def tool_info(cls) -> rt.llm.tools.Tool:  # type: ignore[name-defined]
            from runtree.llm.tools import Parameter, Tool

            return Tool(
                name="add",
                description="adds",
                parameters=[Parameter(name="a", type="int"), Parameter(name="b", type="int")],
            )

    assert Tooly.prepare_tool({"a": 1, "b": 2}).b == 2
    with pytest.raises(rt.NodeInvocationError, match=r"unexpected argument\(s\) \['c'\]"):
        Tooly.prepare_tool({"a": 1, "b": 2, "c": 3})
    with pytest.raises(rt.NodeInvocationError, match=r"missing required argument\(s\) \['b'\]"):
        Tooly.prepare_tool({"a": 1})
    with pytest.raises(rt.NodeDefinitionError, match="is not a tool"):
        Adder.tool_info()


def test_a_node_without_invoke_cannot_be_instantiated() -> None:
    class Base(Node[int]):
        def __init__(self, x: int):
            super().__init__()
            self.x = x

    with pytest.raises(rt.NodeDefinitionError, match=r"Base cannot be instantiated.*invoke\(\)"):
        Base(1)
    with pytest.raises(TypeError, match="invoke"):  # a NodeDefinitionError is a TypeError
        Base(1)

    class Concrete(Base):  # an abstract base with an invoke below it is fine
        def invoke(self) -> int:
            return self.x

    class Again(Concrete):
        pass

    assert Concrete(2).x == 2 and Again(3).x == 3
    with pytest.raises(rt.NodeInvocationError, match="'Concrete'"):
        rt.call_sync(Concrete)  # bad arguments are still reported as such


async def test_sync_body_abandoned_when_its_caller_is_cancelled() -> None:
    """A sync body cannot be interrupted: the caller is released at once and the node
    notes the work that goes on (its future gives the true outcome)."""
    import asyncio
    import threading

    from runtree.nodes.node import take_abandoned

    started, release = threading.Event(), threading.Event()

    class Blocking(Node[str]):
        def invoke(self) -> str:
            started.set()
            release.wait(30)
            return "done"

    node = Blocking()
    task = asyncio.ensure_future(node.invoke())
    await asyncio.to_thread(started.wait, 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    work = take_abandoned(node)
    assert work is not None and not work.done()
    release.set()
    assert await asyncio.wrap_future(work) == "done"
    assert take_abandoned(node) is None
