"""Whole workflows as one call: the session decorator and Flow."""

from __future__ import annotations

import asyncio

import pytest

import runtree as rt
from runtree.interaction.flow import Flow, session


async def double(x: int) -> int:
    return 2 * x


async def check(x: int) -> int:
    if x < 0:
        raise ValueError("negative input")
    return x


async def pipeline(x: int) -> int:
    first = await rt.call(double, x)
    return await rt.call(double, first) + rt.context.get("bonus", 0)


async def test_decorating_an_async_function_opens_a_session_around_each_call() -> None:
    @session
    async def main(x: int) -> int:
        return await rt.call(double, x)

    result, run = await main(3)
    assert result == 6 and run.status == "closed"
    assert [r.node_name for r in run.info.root_requests()] == ["double"]
    again, other = await main(4)
    assert again == 8 and other.run_id != run.run_id


def test_decorating_a_sync_function_with_options() -> None:
    @session(name="sync job", context={"bonus": 1}, store=None)
    def main(x: int) -> int:
        value: int = rt.call_sync(pipeline, x)
        return value

    result, run = main(5)
    assert (result, run.name) == (21, "sync job")


def test_bad_options_fail_when_decorating_not_at_the_first_call() -> None:
    with pytest.raises(rt.ConfigurationError, match="timeout"):
        session(timeout=-3)
    with pytest.raises(TypeError):
        session(no_such_option=1)


def test_a_flow_runs_its_entry_point_as_the_root_call_of_a_new_run() -> None:
    flow: Flow[[int], int] = rt.Flow("Doubler", pipeline, context={"bonus": 100}, store=None)
    assert flow.invoke(1) == 104
    run = flow.last_session
    assert run is not None and run.name == "Doubler"
    assert run.info.answer == 104
    assert [r.node_name for r in run.info.root_requests()] == ["pipeline"]


async def test_a_flow_runs_in_async_code_too() -> None:
    flow = rt.Flow("Doubler", pipeline, store=None)
    assert await flow.ainvoke(2) == 8
    assert "Doubler" in repr(flow)


async def test_invoke_where_an_event_loop_runs_waits_for_a_run_on_a_loop_of_its_own() -> None:
    """A notebook cell (a running loop) can call the blocking form."""
    flow = rt.Flow("Doubler", pipeline, context={"bonus": 1}, store=None)
    assert flow.invoke(2) == 9
    assert (
        flow.last_session is not None and flow.last_session.loop is not asyncio.get_running_loop()
    )
    with pytest.raises(ValueError, match="negative"):
        rt.Flow("Checker", check, store=None).invoke(-1)


def test_update_context_is_a_copy_with_more_context() -> None:
    base = rt.Flow("Bonus", pipeline, context={"bonus": 1, "other": 0}, store=None)
    more = base.update_context({"bonus": 5})
    assert (base.invoke(1), more.invoke(1)) == (5, 9)
    assert more.options["context"] == {"bonus": 5, "other": 0} and more.name == base.name
    assert rt.Flow("Plain", pipeline, store=None).update_context({"bonus": 2}).invoke(1) == 6
    with pytest.raises(rt.ConfigurationError, match="update_context needs a mapping"):
        base.update_context([("bonus", 1)])  # type: ignore[arg-type]


def test_equality_hash_follows_the_name_only() -> None:
    flow = rt.Flow("Same", pipeline, timeout=5)
    assert flow.equality_hash() == rt.Flow("Same", check, context={"bonus": 1}).equality_hash()
    assert flow.equality_hash() != rt.Flow("Other", pipeline, timeout=5).equality_hash()
    assert len(flow.equality_hash()) == 64  # hex sha256: the same in every process


def test_a_flow_refuses_bad_definitions_at_once() -> None:
    with pytest.raises(rt.ConfigurationError, match="needs a name"):
        rt.Flow("", pipeline)
    with pytest.raises(rt.ConfigurationError, match="entry_point"):
        rt.Flow("x", 42)  # type: ignore[call-overload]
    with pytest.raises(rt.ConfigurationError, match="timeout"):
        rt.Flow("x", pipeline, timeout=0)


def test_rt_session_is_the_decorator_and_a_context_manager() -> None:
    @rt.session
    def job(x: int) -> int:
        value: int = rt.call_sync(double, x)
        return value

    assert job(2)[0] == 4
    with rt.session(name="ctx", store=None) as run:
        assert rt.call_sync(double, 5) == 10
    assert (run.name, run.status) == ("ctx", "closed")


async def test_rt_session_as_an_async_context_manager() -> None:
    async with rt.session(name="actx", store=None) as run:
        assert await rt.call(double, 1) == 2
    assert run.info.answer == 2
