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


@rt.function_node
async def ids_leaf() -> tuple[str | None, str | None, str | None]:
    return central.get_session_id(), central.get_run_id(), central.get_parent_id()


@rt.function_node
def ids_sync_leaf() -> tuple[str | None, str | None, str | None]:
    return central.get_session_id(), central.get_run_id(), central.get_parent_id()


@rt.function_node
async def ids_root() -> list[tuple[str | None, str | None, str | None]]:
    return [await rt.call(ids_leaf), await rt.call(ids_sync_leaf), await ids_root_own()]


async def ids_root_own() -> tuple[str | None, str | None, str | None]:
    return central.get_session_id(), central.get_run_id(), central.get_parent_id()


@pytest.mark.parametrize("mode", ["async", "thread"])
async def test_session_and_run_ids_as_railtracks_names_them(mode: str) -> None:
    assert central.get_session_id() is None and central.get_run_id() is None
    async with rt.Session(execution_mode=mode) as run:
        assert central.get_session_id() == run.run_id
        assert central.get_run_id() is None  # outside any node
        first = await rt.call(ids_root)
        second = await rt.call(ids_root)
    roots = run.info.roots
    for seen, root in ((first, roots[0]), (second, roots[1])):
        leaf, sync_leaf, own = seen
        assert {leaf[0], sync_leaf[0], own[0]} == {run.run_id}
        assert {leaf[1], sync_leaf[1], own[1]} == {root}  # every call under one root
        assert own[2] == root and leaf[2] != root and sync_leaf[2] != root
