from __future__ import annotations

import json

import pytest

import runtree as rt
from runtree.state import ExecutionInfo, RequestRecord
from tests.support import Parent


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


def _ended(info: ExecutionInfo, record: RequestRecord, start: float, end: float) -> None:
    record.start_time, record.end_time, record.status = start, end, "succeeded"
    info.set_output(record, f"out {record.request_id}")


def test_answers_and_insertion_requests_follow_the_root_calls_in_order() -> None:
    info = ExecutionInfo(run_id="r")
    first = info.add_request(_record("a", None))
    info.add_request(_record("a1", "a"))
    failed = info.add_request(_record("b", None))
    info.add_request(_record("c", None))  # still running
    _ended(info, first, 1.0, 2.0)
    failed.status = "failed"
    info.finish(failed)
    assert info.answers == ["out a", None, None]
    assert info.answer == "out a"  # the last root call that succeeded
    assert [r.request_id for r in info.insertion_requests] == ["a", "b", "c"]
    assert info.insertion_requests == info.root_requests()


def test_railtracks_names_of_a_requests_fields() -> None:
    info = ExecutionInfo(run_id="r")
    info.add_request(RequestRecord("a", None, "N", (1,), {"k": 2}, "async", 1.0))
    child = info.add_request(RequestRecord("b", "a", "M", (), {}, "async", 1.0))
    assert info.session_id == "r"
    (root,) = info.insertion_requests
    assert (root.identifier, root.source_id, root.sink_id) == ("a", None, "a")
    assert root.input == ((1,), {"k": 2})
    assert (child.identifier, child.source_id, child.sink_id) == ("b", "a", "b")


def test_all_stamps_are_every_start_and_end_in_time_order() -> None:
    info = ExecutionInfo()
    root = info.add_request(_record("root", None))
    child = info.add_request(_record("child", "root"))
    late = info.add_request(_record("late", None))
    _ended(info, child, 2.0, 3.0)
    _ended(info, root, 1.0, 4.0)
    late.start_time = 3.5  # still running: a start, no end
    stamps = info.all_stamps
    assert [(s.step, s.time, s.identifier, s.event) for s in stamps] == [
        (0, 1.0, "root", "start"),
        (1, 2.0, "child", "start"),
        (2, 3.0, "child", "end"),
        (3, 3.5, "late", "start"),
        (4, 4.0, "root", "end"),
    ]
    assert {s.node_name for s in stamps} == {"N"}


def test_stamps_at_the_same_time_keep_creation_order_and_start_before_end() -> None:
    info = ExecutionInfo()
    first = info.add_request(_record("first", None))
    second = info.add_request(_record("second", None))
    _ended(info, second, 1.0, 1.0)
    _ended(info, first, 1.0, 1.0)
    assert [(s.identifier, s.event) for s in info.all_stamps] == [
        ("first", "start"),
        ("first", "end"),
        ("second", "start"),
        ("second", "end"),
    ]


def test_get_info_is_one_requests_subtree_as_an_info_of_its_own() -> None:
    info = ExecutionInfo(run_id="r", name="run")
    a = info.add_request(_record("a", None))
    a1 = info.add_request(_record("a1", "a"))
    info.add_request(_record("a1x", "a1"))
    info.add_request(_record("b", None))
    _ended(info, a1, 1.0, 2.0)
    sub = info.get_info("a1")
    assert (sub.run_id, sub.name, len(sub)) == ("r", "run", 2)
    assert sub.roots == ["a1"] and sub.answer == "out a1" and sub.answers == ["out a1"]
    assert [(d, r.request_id) for d, r in sub.walk()] == [(0, "a1"), (1, "a1x")]
    assert sub.statistics().running == 1 and sub.statistics().succeeded == 1
    assert sub.get("a1") is not a1  # a snapshot: the run's own records are untouched
    assert a.children == ["a1"] and info.roots == ["a", "b"]
    assert info.get_info("a").roots == ["a"] and not info.get_info("a").has_answer
    with pytest.raises(KeyError):
        info.get_info("nope")


def test_a_sessions_answers_stamps_and_subtrees_after_it_closed() -> None:
    def leaf(i: int) -> int:
        return i * 10

    with rt.Session(name="several") as run:
        run.run_sync(leaf, 1)
        run.run_sync(Parent, 1)
        run.run_sync(leaf, 2)
    info = run.info
    assert info.answers == [10, [2, 3], 20] and info.answer == 20
    stamps = info.all_stamps
    assert len(stamps) == 2 * len(info) == 10
    assert [s.step for s in stamps] == list(range(10))
    assert [s.time for s in stamps] == sorted(s.time for s in stamps)
    parent = info.insertion_requests[1]
    sub = info.get_info(parent.request_id)
    assert sub.answer == [2, 3] and len(sub) == 3 and len(sub.all_stamps) == 6
