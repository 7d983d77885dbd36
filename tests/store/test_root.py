"""Every root call is known to resume: its node's module:qualname and file, once per node
class and run; a resumed run inherits the root calls it had not reached."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

import runtree as rt
from runtree.nodes.function import function_node
from runtree.store import SqliteRunStore
from runtree.store.root import RootTargets, root_calls, root_target
from tests.store import nodes
from tests.store.nodes import Flow, Leaf

NODES_FILE = str(Path(nodes.__file__).resolve())


def test_a_root_target_names_module_qualname_and_file() -> None:
    assert root_target(Leaf) == ("tests.store.nodes:Leaf", NODES_FILE)
    assert root_target(function_node(nodes.note)) == ("tests.store.nodes:note", NODES_FILE)
    assert root_target(function_node(len)) == ("builtins:len", None)


def test_one_row_per_node_name_and_a_row_per_call_for_a_second_class_of_that_name() -> None:
    targets = RootTargets("run")
    first = targets.row(Leaf, "Leaf", "r-1")
    assert first is not None and first == ("run", "Leaf", "", "tests.store.nodes:Leaf", NODES_FILE)
    assert targets.row(Leaf, "Leaf", "r-2") is None  # covered by the row of its name
    other = type("Leaf", (Leaf,), {"__module__": "elsewhere"})
    assert targets.row(other, "Leaf", "r-3") == ("run", "Leaf", "r-3", "elsewhere:Leaf", None)
    assert targets.row(other, "Leaf", "r-4") == ("run", "Leaf", "r-4", "elsewhere:Leaf", None)
    assert targets.row(Leaf, "Leaf", "r-5") is None


async def test_every_root_call_is_recorded_in_order_with_its_node(db: Path) -> None:
    other = type("Leaf", (Leaf,), {"__module__": "elsewhere"})
    async with rt.Session(store=db) as session:
        await rt.call(Leaf, 1)
        await rt.call(nodes.note, "x")
        await rt.call(Flow, 2)
        await rt.call(other, 5)
        await rt.call(Leaf, 3)
    with SqliteRunStore(db) as store:
        roots = store.get_roots(session.run_id)
    assert [(r.node_name, r.target, r.inputs["args"], r.status, r.mode) for r in roots] == [
        ("Leaf", "tests.store.nodes:Leaf", [1], "succeeded", "async"),
        ("note", "tests.store.nodes:note", ["x"], "succeeded", "async"),
        ("Flow", "tests.store.nodes:Flow", [2], "succeeded", "async"),
        ("Leaf", "elsewhere:Leaf", [5], "succeeded", "async"),
        ("Leaf", "tests.store.nodes:Leaf", [3], "succeeded", "async"),
    ]
    assert {r.file for r in roots if r.target and r.target.startswith("tests")} == {NODES_FILE}


def _failing_run(db: Path, values: list[int], *, resume: str | None = None) -> str:
    async def main() -> str:
        session = rt.Session(store=db, resume=resume)
        with pytest.raises(RuntimeError):
            async with session:
                for value in values:
                    await rt.call(Leaf, value)
                raise RuntimeError("stopped")
        return session.run_id

    return asyncio.run(main())


def test_a_resumed_run_knows_the_root_calls_it_had_not_reached(db: Path) -> None:
    first = _failing_run(db, [1, 2, 3])
    second = _failing_run(db, [1], resume=first)  # stopped after one root call
    third = _failing_run(db, [1, 7], resume=second)  # made a different second call
    with SqliteRunStore(db) as store:
        for run_id, expected in ((second, [1, 2, 3]), (third, [1, 7, 3])):
            calls = root_calls(store, store.get_run(run_id))
            assert [c.inputs["args"][0] for c in calls] == expected
        calls = root_calls(store, store.get_run(third))
        assert [c.run_id for c in calls] == [third, third, first]


def test_runs_written_before_root_targets_name_their_first_root(db: Path) -> None:
    run_id = _failing_run(db, [1, 2])
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM root_targets")
    conn.commit()
    conn.close()
    with SqliteRunStore(db) as store:
        calls = root_calls(store, store.get_run(run_id))
    assert [c.target for c in calls] == ["tests.store.nodes:Leaf", None]


def test_with_sync_durability_the_first_root_call_is_on_disk_before_it_runs(db: Path) -> None:
    seen: list[object] = []

    async def look() -> int:
        conn = sqlite3.connect(db)
        try:
            seen.extend(conn.execute("SELECT node_name, target FROM root_targets").fetchall())
            seen.extend(
                conn.execute("SELECT node_name FROM requests WHERE parent_id IS NULL").fetchall()
            )
        finally:
            conn.close()
        return 1

    async def main() -> None:
        async with rt.Session(store=db, durability="sync"):
            await rt.call(look)

    asyncio.run(main())
    assert seen == [
        (
            "look",
            f"{__name__}:test_with_sync_durability_the_first_root_call_is_on_disk_before_it_runs.<locals>.look",
        ),
        ("look",),
    ]
