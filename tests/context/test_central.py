from __future__ import annotations

import pytest

import runtree as rt
from runtree.context import central
from tests.support import Adder


class Nested(rt.Node[list[str]]):
    def __init__(self) -> None:
        super().__init__()

    async def invoke(self) -> list[str]:
        await rt.call(Adder, 1, 1)
        return [central.get_parent_id() or ""]


async def test_execution_mode_applies_to_direct_calls_only() -> None:
    async with rt.Session() as run:
        with rt.execution_mode("thread"):
            await rt.call(Nested)
    modes = {r.node_name: r.mode for r in run.info.requests.values()}
    assert modes == {"Nested": "thread", "Adder": "async"}


async def test_parent_id_inside_a_node_is_its_request_id() -> None:
    async with rt.Session() as run:
        (seen,) = await rt.call(Nested)
    assert seen == run.info.roots[0]


async def test_context_accessors() -> None:
    assert not central.is_context_present()
    assert central.get_publisher() is None
    async with rt.Session() as run:
        assert central.is_context_present()
        assert central.get_session() is run
        assert central.get_publisher() is run.publisher
        token = central.update_parent_id("outer")
        assert central.get_parent_id() == "outer"
        central.parent_id.reset(token)
    with pytest.raises(rt.ConfigurationError, match="non-empty string"), rt.execution_mode(""):
        pass
