from __future__ import annotations

import json

import runtree as rt
from runtree.state import ExecutionInfo, RequestRecord


def _record(request_id: str, parent: str | None, name: str = "N") -> RequestRecord:
    return RequestRecord(request_id, parent, name, (), {}, "async", 1.0)


def test_forest_structure_and_walk() -> None:
    info = ExecutionInfo(run_id="r")
    info.add_request(_record("a", None))
    info.add_request(_record("a1", "a"))
    info.add_request(_record("a2", "a"))
    info.add_request(_record("a1x", "a1"))
    info.add_request(_record("b", None))
    info.add_request(_record("orphan", "not-in-this-run"))  # a parent from elsewhere: a root
    assert info.roots == ["a", "b", "orphan"]
    assert [r.request_id for r in info.children("a")] == ["a1", "a2"]
    assert [(d, r.request_id) for d, r in info.walk()] == [
        (0, "a"),
        (1, "a1"),
        (2, "a1x"),
        (1, "a2"),
        (0, "b"),
        (0, "orphan"),
    ]
    assert info.children("b") == []
    assert info.requests["b"].children == []


def test_leaves_do_not_share_children_lists() -> None:
    info = ExecutionInfo()
    info.add_request(_record("p", None))
    info.add_request(_record("q", None))
    info.add_request(_record("p1", "p"))
    assert info.requests["q"].children == []
    assert info.requests["p"].children == ["p1"]


def test_statistics_answer_and_tree_text() -> None:
    async def ok(x: int) -> int:
        return x

    async def bad() -> None:
        raise KeyError("k")

    with rt.Session(name="stats") as run:
        rt.call_sync(ok, 1)
        try:
            rt.call_sync(bad)
        except KeyError:
            pass
        rt.call_sync(ok, 2)
    stats = run.info.statistics()
    assert (stats.requests, stats.succeeded, stats.failed, stats.running) == (3, 2, 1, 0)
    assert run.info.answer == 2 and run.info.has_answer
    text = run.info.tree_text()
    assert "bad [failed]" in text and "KeyError" in text
    record = run.info.root_requests()[0]
    assert record.duration is not None and record.duration >= 0
    exported = json.loads(run.info.to_json())
    assert exported["requests"][1]["error"] == {"type": "KeyError", "message": "'k'"}
    assert exported["requests"][0]["children"] == []
