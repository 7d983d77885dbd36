"""Memory is bounded by what runs: finished records leave memory past a cap and come back
from the journal when asked for; without a journal they are counted, not kept."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

import runtree as rt
from runtree.errors import ConfigurationError, RemoteError
from runtree.execution.coordinator import CoordinatorState, Job
from runtree.state import ExecutionInfo, RequestRecord


def _record(request_id: str, parent: str | None) -> RequestRecord:
    return RequestRecord(request_id, parent, "N", (), {}, "async", 1.0)


def _end(info: ExecutionInfo, record: RequestRecord, status: str = "succeeded") -> None:
    record.status = status
    record.end_time = 2.0
    if status == "succeeded":
        info.set_output(record, record.request_id)
    else:
        record.error = ValueError(record.request_id)
        info.finish(record)


def test_finished_records_beyond_the_cap_leave_memory_first_in_first_out() -> None:
    info = ExecutionInfo(run_id="r", max_finished=3)
    root = info.add_request(_record("root", None))
    for i in range(10):
        child = info.add_request(_record(f"c{i}", "root"))
        _end(info, child, "failed" if i == 4 else "succeeded")
    stats = info.statistics()
    assert (stats.requests, stats.running, stats.succeeded, stats.failed) == (11, 1, 9, 1)
    assert (stats.evicted, stats.kept) == (7, 4)
    assert len(info) == 11
    # without a journal, what left memory is gone: reads show what is kept
    assert [r.request_id for r in info.children("root")] == ["c7", "c8", "c9"]
    assert len(info.requests) == 4
    with pytest.raises(KeyError):
        info.get("c0")
    assert info.get("c9").output == "c9"
    _end(info, root)
    assert info.answer == "root"


def test_a_parent_with_many_finished_children_holds_only_the_recent_ones() -> None:
    info = ExecutionInfo(max_finished=10)
    info.add_request(_record("root", None))
    for i in range(5000):
        _end(info, info.add_request(_record(f"c{i}", "root")))
        _end(info, info.add_request(_record(f"top{i}", None)))
    assert len(info.get("root").children) <= 2 * (10 + 1) + 16
    assert len(info._roots) <= 2 * (10 + 1) + 17
    assert info.statistics().kept == 11


def test_bad_caps_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="max_finished"):
        ExecutionInfo(max_finished=-1)
    with pytest.raises(ConfigurationError, match="max_finished"):
        CoordinatorState(max_finished=True)


def test_the_coordinator_keeps_running_jobs_and_counts_the_rest() -> None:
    state = CoordinatorState(max_finished=2)
    jobs = [Job(f"j{i}", "N", "async", 1.0) for i in range(6)]
    for job in jobs:
        state.start_job(job)
    for job in jobs[:5]:
        state.end_job(job, "succeeded", 2.0)
    assert sorted(state.jobs) == ["j3", "j4", "j5"]  # two finished, one running
    stats = state.statistics()
    assert (stats.submitted, stats.running, stats.succeeded) == (6, 1, 5)


async def test_a_session_reads_evicted_requests_back_from_its_journal(tmp_path: Path) -> None:
    async def leaf(i: int) -> tuple[int, int]:
        return (i, -i)

    async def bad() -> None:
        raise KeyError("k")

    async with rt.Session(store=tmp_path / "j.db") as session:
        session.info.max_finished = 5  # a small window, to see the journal take over
        for i in range(30):
            await rt.call(leaf, i)
        with pytest.raises(KeyError):
            await rt.call(bad)
    info = session.info
    assert info.statistics().evicted == 26 and len(info) == 31
    # after the session closed: everything is still there, old ones as the journal has them
    records = list(info.requests.values())
    assert [r.args for r in records[:3]] == [(0,), (1,), (2,)]
    assert records[0].output == [0, 0]  # read back: JSON
    assert records[-2].output == (29, -29)  # still in memory: the very object
    assert len(info.root_requests()) == 31
    assert info.get(records[0].request_id).status == "succeeded"
    failed = info.get(records[-1].request_id)
    assert isinstance(failed.error, KeyError)
    text = info.tree_text()
    assert text.count("\n") == 30 and "bad [failed]" in text and "KeyError" in text
    exported = info.to_dict()
    assert len(exported["requests"]) == 31 and len(exported["roots"]) == 31


async def test_errors_read_back_keep_their_type_name(tmp_path: Path) -> None:
    async def bad(i: int) -> None:
        raise KeyError(i)

    async with rt.Session(store=tmp_path / "j.db") as session:
        session.info.max_finished = 1
        for i in range(3):
            with pytest.raises(KeyError):
                await rt.call(bad, i)
    first = session.info.root_requests()[0]
    assert isinstance(first.error, RemoteError) and first.error.type_name == "KeyError"
    assert "KeyError: 0" in session.info.tree_text()
    assert session.info.to_dict()["requests"][0]["error"]["type"] == "KeyError"


async def test_a_session_of_many_calls_keeps_a_bounded_number_of_records(
    tmp_path: Path,
) -> None:
    async def trivial(i: int) -> int:
        return i

    async with rt.Session(store=None) as session:
        session.info.max_finished = 100
        for i in range(3000):
            await rt.call(trivial, i)
    gc.collect()
    stats = session.statistics()
    assert stats.requests.requests == 3000 and stats.requests.kept == 100
    assert stats.jobs.submitted == 3000 and stats.jobs.succeeded == 3000
    assert len(session.coordinator.state.jobs) <= 1000
    prefix = session.run_id[:8]
    alive = sum(
        1
        for obj in gc.get_objects()
        if type(obj) is RequestRecord and obj.request_id.startswith(prefix)
    )
    assert alive <= 1000 + 100


async def test_answers_stamps_and_subtrees_read_evicted_requests_back(tmp_path: Path) -> None:
    async def leaf(i: int) -> int:
        return i

    async def pair(i: int) -> list[int]:
        return [await rt.call(leaf, i), await rt.call(leaf, -i)]

    async with rt.Session(store=tmp_path / "j.db") as session:
        session.info.max_finished = 2
        for i in range(5):
            await rt.call(pair, i)
    info = session.info
    assert info.statistics().evicted == 13
    assert info.answers == [[i, -i] for i in range(5)]  # the old ones as the journal has them
    assert len(info.all_stamps) == 30 and [s.step for s in info.all_stamps] == list(range(30))
    first = info.insertion_requests[0]
    sub = info.get_info(first.request_id)
    assert sub.answer == [0, 0] and [r.args for r in sub.children(first.request_id)] == [
        (0,),
        (0,),
    ]
