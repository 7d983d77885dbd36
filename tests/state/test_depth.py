"""Calls nested deeper than ``max_call_depth`` fail fast, clearly, and the run is recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

import runtree as rt
from runtree.store import SqliteRunStore


class Recurse(rt.Node[int]):
    def __init__(self, n: int):
        super().__init__()
        self.n = n

    async def invoke(self) -> int:
        if self.n == 0:
            return 0
        return await rt.call(Recurse, self.n - 1) + 1


class SyncRecurse(rt.Node[int]):
    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def invoke(self) -> int:
        if self.n == 0:
            return 0
        return rt.call_sync(SyncRecurse, self.n - 1) + 1


async def test_deep_recursion_fails_fast() -> None:
    with pytest.raises(rt.CallDepthError) as caught:
        async with rt.Session(store=None) as session:
            await rt.call(Recurse, 500)
    message = str(caught.value)
    assert "call depth 101 exceeds max_call_depth=100" in message
    assert "Recurse > Recurse > Recurse > (95 more) > Recurse > Recurse > Recurse" in message
    assert isinstance(caught.value, RecursionError)
    assert len(session.info) == 100  # the refused call was never recorded
    assert {r.status for r in session.info.requests.values()} == {"failed"}


async def test_the_run_that_recursed_too_deep_is_journaled(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    with pytest.raises(rt.CallDepthError):
        async with rt.Session(store=db, max_call_depth=10):
            await rt.call(Recurse, 500)
    with SqliteRunStore(db) as store:
        (run,) = store.list_runs()
        requests = store.get_requests(run.run_id)
    assert run.status == "failed" and "CallDepthError" in (run.error or "")
    assert len(requests) == 10 and {r.status for r in requests} == {"failed"}


async def test_max_call_depth_is_an_option() -> None:
    async with rt.Session(store=None, max_call_depth=3):
        assert await rt.call(Recurse, 2) == 2  # depth 3
        with pytest.raises(rt.CallDepthError, match=r"depth 4 .*: Recurse > Recurse > Recurse"):
            await rt.call(Recurse, 3)
    for bad in (0, -1, 2.5, True, "10"):
        with pytest.raises(rt.ConfigurationError, match="max_call_depth"):
            rt.Session(max_call_depth=bad)  # type: ignore[arg-type]


def test_deep_sync_recursion_fails_fast() -> None:
    """Sync nodes nest through threads (no Python recursion at all): the limit holds too."""
    with pytest.raises(rt.CallDepthError), rt.Session(store=None, max_call_depth=20):
        rt.call_sync(SyncRecurse, 50)


async def test_siblings_do_not_add_up() -> None:
    """Depth is the chain of parents, not the number of calls."""

    class Wide(rt.Node[int]):
        def __init__(self) -> None:
            super().__init__()

        async def invoke(self) -> int:
            return sum(await rt.call_batch(Recurse, [1] * 10))

    async with rt.Session(store=None, max_call_depth=3):
        for _ in range(5):
            assert await rt.call(Wide) == 10
