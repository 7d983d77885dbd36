from __future__ import annotations

from pathlib import Path

import pytest

import runtree as rt
from tests.support import Adder, Boom, Failing, Forever


async def test_call_outside_session_opens_temporary_one() -> None:
    assert rt.context.get_session() is None
    assert await rt.call(Adder, 1, 2) == 3
    assert rt.context.get_session() is None


async def test_functions_are_nodes() -> None:
    async def double(x: int) -> int:
        return 2 * x

    def triple(x: int) -> int:
        return 3 * x

    async with rt.Session() as session:
        assert await rt.call(double, 4) == 8
        assert await rt.call(triple, x=4) == 12
    assert [r.node_name for r in session.info.requests.values()] == ["double", "triple"]


async def test_bad_arguments_fail_before_anything_runs() -> None:
    async def greet(name: str, *, polite: bool = False) -> str:
        return name

    async with rt.Session() as session:
        with pytest.raises(rt.NodeInvocationError, match=r"node 'Adder'.*'b'"):
            await rt.call(Adder, 1)
        with pytest.raises(rt.NodeInvocationError, match=r"node 'greet'.*'rude'"):
            await rt.call(greet, "x", rude=True)
        with pytest.raises(TypeError):  # NodeInvocationError is a TypeError too
            await rt.call(greet)
        with pytest.raises(rt.NodeInvocationError, match="instance of Adder"):
            await rt.call(Adder(1, 2))  # type: ignore[arg-type]
        with pytest.raises(rt.NodeInvocationError, match="not a node"):
            await rt.call(int)
    assert len(session.info) == 0


async def test_type_error_inside_init_is_the_nodes_own() -> None:
    class Strict(rt.Node[int]):
        def __init__(self, x: int):
            super().__init__()
            if not isinstance(x, int):
                raise TypeError("x must be an int")
            self.x = x

        async def invoke(self) -> int:
            return self.x

    with pytest.raises(TypeError, match="x must be an int") as caught:
        await rt.call(Strict, "no")
    assert not isinstance(caught.value, rt.NodeInvocationError)


async def test_call_sync_inside_running_loop_is_a_clear_error() -> None:
    with pytest.raises(rt.ContextError, match="await rt.call"):
        rt.call_sync(Adder, 1, 2)


def test_call_sync_from_sync_node_in_worker_thread() -> None:
    class SyncParent(rt.Node[int]):
        def __init__(self, x: int):
            super().__init__()
            self.x = x

        def invoke(self) -> int:  # runs in a worker thread
            return rt.call_sync(Adder, self.x, 1) * 10

    with rt.Session() as session:
        assert rt.call_sync(SyncParent, 1) == 20
    root = session.info.root_requests()[0]
    assert [c.node_name for c in session.info.children(root.request_id)] == ["Adder"]


def test_call_sync_outside_session() -> None:
    assert rt.call_sync(Adder, 1, 2) == 3
    with pytest.raises(Boom):
        rt.call_sync(Failing)


async def test_sync_with_session_inside_async_code(tmp_path: Path) -> None:
    """railtracks style: `with` inside async code. The run is finished and written when the
    block ends (nothing is left for the loop to do later)."""
    from runtree.store import SqliteRunStore

    got: list[str] = []

    async def on_item(item: str) -> None:
        got.append(item)

    db = tmp_path / "j.db"
    with rt.Session(store=db, broadcast_callback=on_item) as session:
        assert await rt.call(Adder, 2, 2) == 4
        await rt.broadcast("item")
    assert session.status == "closed" and session.info.answer == 4
    assert got == ["item"]  # delivered before the block ended
    with SqliteRunStore(db) as store:
        run = store.get_run(session.run_id)
        assert run.status == "succeeded" and run.end_time is not None
        assert [r.node_name for r in store.get_requests(session.run_id)] == ["Adder"]


async def test_sync_with_session_inside_async_code_times_out() -> None:
    with pytest.raises(rt.SessionTimeoutError), rt.Session(timeout=0.05) as session:
        await rt.call(Forever)
    assert [r.status for r in session.info.requests.values()] == ["cancelled"]


async def test_abstract_node_is_refused() -> None:
    class NoInvoke(rt.Node[int]):
        pass

    with pytest.raises(rt.NodeDefinitionError, match="does not implement invoke"):
        await rt.call(NoInvoke)
    with pytest.raises(TypeError, match=r"NoInvoke cannot be instantiated.*invoke\(\)"):
        NoInvoke()


async def test_temporary_sessions_are_not_journaled(tmp_path: object) -> None:
    import os
    from pathlib import Path

    home = Path(os.environ["RT_HOME"])
    assert await rt.call(Adder, 1, 2) == 3
    assert await rt.call_batch(Adder, [1], [2]) == [3]
    assert not (home / "runtree.db").exists()
    async with rt.Session(name="kept"):
        await rt.call(Adder, 1, 2)
    assert (home / "runtree.db").exists()
