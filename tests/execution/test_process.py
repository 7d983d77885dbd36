"""The process strategy with real worker processes: nesting, journaling as calls finish,
worker death, cancellation, errors that do not pickle, context and statistics."""

from __future__ import annotations

import asyncio
import os
import pickle
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runtree as rt
from runtree.execution.coordinator import Coordinator
from runtree.execution.execution_strategy import ProcessExecutionStrategy
from runtree.execution.task import Task
from runtree.execution.wire import Unsendable
from runtree.pubsub.messages import RequestSuccess
from runtree.pubsub.publisher import RTPublisher
from runtree.runtime.strategies import worker_scope
from tests.execution.nodes import (
    TENANT,
    AnnounceAndWait,
    CheckJournal,
    Closes,
    Die,
    GraphInWorker,
    Keeps,
    LockedError,
    Nest,
    PairError,
    Pid,
    Raise,
    Steps,
    SyncAnnounceAndWait,
    Takes,
    Tenant,
    Unpicklable,
)
from tests.support import Adder, Parent, process_gone


@pytest.fixture(scope="module")
def strategy() -> Iterator[ProcessExecutionStrategy]:
    """A pool of two workers shared by the tests of this module."""
    pool = ProcessExecutionStrategy(max_workers=2, worker_scope=worker_scope)
    yield pool
    pool.shutdown()


def _session(strategy: ProcessExecutionStrategy, **options: Any) -> rt.Session:
    options.setdefault("store", None)
    options.setdefault("execution_mode", "process")
    return rt.Session(execution_modes={"process": strategy}, **options)


async def test_nested_process_calls_never_deadlock_a_one_worker_pool() -> None:
    single = ProcessExecutionStrategy(max_workers=1, worker_scope=worker_scope)
    try:
        async with _session(single) as session:
            pids = await rt.call(Nest, 2, 2)  # 1 + 2 + 4 requests, all in process mode
        assert len(pids) == 7 and os.getpid() not in pids
        assert len(session.info) == 7
        assert all(record.status == "succeeded" for record in session.info.requests.values())
        stats = single.statistics()
        # a worker waiting for its children does not hold the only slot
        assert stats.busy == 0 and stats.parked == 0 and stats.queued == 0
        assert stats.idle == 1 and stats.tasks == 7
    finally:
        single.shutdown()
    assert single.statistics().workers == 0


async def test_calls_in_async_mode_stay_in_the_worker(strategy: ProcessExecutionStrategy) -> None:
    async with _session(strategy, execution_mode="async") as session:
        with rt.execution_mode("process"):
            assert await rt.call(Parent, 1) == [2, 3]
    root = session.info.root_requests()[0]
    assert root.mode == "process"
    assert [c.mode for c in session.info.children(root.request_id)] == ["async", "async"]


async def test_with_sync_durability_a_nested_request_is_on_disk_before_its_caller_goes_on(
    strategy: ProcessExecutionStrategy, tmp_path: Path
) -> None:
    db = tmp_path / "journal.db"
    async with _session(strategy, store=db, durability="sync") as session:
        seen = await rt.call(CheckJournal, str(db))
    # read by the node in its worker, right after its nested call returned
    assert seen == [("Adder", "succeeded"), ("CheckJournal", "running")]
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT node_name, status, parent_id FROM requests WHERE run_id = ?",
            (session.run_id,),
        ).fetchall()
    root = session.info.root_requests()[0]
    assert sorted(rows) == [
        ("Adder", "succeeded", root.request_id),
        ("CheckJournal", "succeeded", None),
    ]


async def test_resume_answers_the_nested_calls_a_worker_finished(
    strategy: ProcessExecutionStrategy, tmp_path: Path
) -> None:
    db, log, flag = tmp_path / "journal.db", tmp_path / "steps.txt", tmp_path / "fail"
    flag.touch()
    async with _session(strategy, store=db) as first:
        with pytest.raises(RuntimeError, match="on purpose"):
            await rt.call(Steps, str(log), 3, str(flag))
    flag.unlink()
    async with _session(strategy, store=db, resume=first.run_id):
        assert await rt.call(Steps, str(log), 3, str(flag)) == 3
    # every step ran once across the failed run and its resumption
    assert log.read_text().splitlines() == ["step 0", "step 1", "step 2"]


async def test_a_graph_in_a_worker_resumes_with_its_shared_store(
    strategy: ProcessExecutionStrategy, tmp_path: Path
) -> None:
    db, log, flag = tmp_path / "journal.db", tmp_path / "steps.txt", tmp_path / "fail"
    flag.touch()
    async with _session(strategy, store=db) as first:
        with pytest.raises(RuntimeError, match="on purpose"):
            await rt.call(GraphInWorker, str(log), str(flag))
    flag.unlink()
    async with _session(strategy, store=db, resume=first.run_id):
        # the finished steps are answered from the journal, their changes re-applied
        assert await rt.call(GraphInWorker, str(log), str(flag)) == ["first", "second"]
    assert log.read_text().splitlines() == ["first", "second"]


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("SIGKILL", "killed by signal SIGKILL"),
        ("SIGTERM", "killed by signal SIGTERM"),
        ("exit", "exited with code 3"),
    ],
)
async def test_a_dead_worker_fails_only_its_own_request(
    strategy: ProcessExecutionStrategy, how: str, said: str
) -> None:
    before = strategy.statistics().restarted
    async with _session(strategy) as session:
        results = await asyncio.gather(
            rt.call(Adder, 1, 1), rt.call(Die, how), rt.call(Adder, 2, 2), return_exceptions=True
        )
        assert results[0] == 2 and results[2] == 4
        error = results[1]
        assert isinstance(error, rt.ExecutionError)
        assert "'Die'" in str(error) and said in str(error)
        assert await rt.call(Adder, 3, 3) == 6  # the pool recovered
    statuses = {r.node_name: r.status for r in session.info.requests.values()}
    assert statuses == {"Adder": "succeeded", "Die": "failed"}
    assert strategy.statistics().restarted == before + 1


async def test_exceptions_keep_their_type_and_message(
    strategy: ProcessExecutionStrategy, tmp_path: Path
) -> None:
    (tmp_path / "worker_only_module.py").write_text("class WorkerOnly(Exception):\n    pass\n")
    async with _session(strategy) as session:
        with pytest.raises(PairError) as pair:
            await rt.call(Raise, "pair")
        with pytest.raises(LockedError, match="holds a lock"):
            await rt.call(Raise, "locked")
        with pytest.raises(rt.RemoteError) as remote:
            await rt.call(Raise, "worker-only", str(tmp_path))
    assert str(pair.value) == "7: seven is not allowed"
    assert (pair.value.code, pair.value.reason) == (7, "seven is not allowed")
    error = remote.value
    assert type(error).__name__ == "WorkerOnly" and str(error) == "made in the worker"
    assert error.type_name == "worker_only_module.WorkerOnly"
    assert "WorkerOnly: made in the worker" in error.remote_traceback
    again = pickle.loads(pickle.dumps(error))  # errors pickle (DESIGN.md section 4)
    assert (type(again).__name__, str(again), again.type_name) == (
        "WorkerOnly",
        "made in the worker",
        "worker_only_module.WorkerOnly",
    )
    assert isinstance(again, rt.RemoteError)
    records = list(session.info.requests.values())
    assert [type(r.error).__name__ for r in records] == ["PairError", "LockedError", "WorkerOnly"]


async def test_unpicklable_inputs_and_results_name_the_node(
    strategy: ProcessExecutionStrategy,
) -> None:
    async with _session(strategy) as session:
        with pytest.raises(rt.ExecutionError, match=r"'Takes'.*attribute 'thing'"):
            await rt.call(Takes, threading.Lock())
        with pytest.raises(
            rt.ExecutionError, match=r"'Unpicklable' returned a .*lock.* cannot be pickled"
        ):
            await rt.call(Unpicklable)
    assert [r.status for r in session.info.requests.values()] == ["failed", "failed"]


async def test_values_that_cannot_cross_are_recorded_as_descriptions(
    strategy: ProcessExecutionStrategy,
) -> None:
    async with _session(strategy, execution_mode="async") as session:
        with rt.execution_mode("process"):
            seen = await rt.call(Keeps)
    assert seen[:4] == ["lock", "lock", "same process", "other thread"]
    assert "node 'Unpicklable' returned a _thread.lock that cannot be pickled" in seen[4]
    records = {(r.node_name, r.mode): r for r in session.info.requests.values()}
    made, taken = records[("Unpicklable", "async")], records[("Takes", "async")]
    assert isinstance(made.output, Unsendable) and made.output.type == "_thread.lock"
    assert isinstance(taken.args[0], Unsendable) and taken.output == "lock"
    assert records[("Unpicklable", "process")].status == "failed"
    assert records[("Where", "thread")].status == "succeeded"


async def test_cancelling_a_request_stops_the_node_in_its_worker(
    strategy: ProcessExecutionStrategy,
) -> None:
    for node in (AnnounceAndWait, SyncAnnounceAndWait):
        announced: asyncio.Queue[Any] = asyncio.Queue()  # the worker's pid (a broadcast)
        ended: asyncio.Queue[str] = asyncio.Queue()  # names of the requests that succeeded

        async def finished(message: RequestSuccess, queue: asyncio.Queue[str] = ended) -> None:
            await queue.put(message.node_name)

        async with _session(
            strategy, execution_mode="async", broadcast_callback=announced.put
        ) as session:
            session.publisher.subscribe(finished, topics=RequestSuccess)
            with rt.execution_mode("process"):  # the node's own calls stay in its worker
                running = asyncio.ensure_future(rt.call(node))
            pid = await announced.get()
            if node is SyncAnnounceAndWait:  # Announce, then Adder, then it blocks
                assert [await ended.get(), await ended.get()] == ["Announce", "Adder"]
            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running
            assert process_gone(pid)  # stopped (and reaped) before the request was recorded
        statuses = [(r.node_name, r.status) for r in session.info.requests.values()]
        expected = [(node.name(), "cancelled")]
        if node is SyncAnnounceAndWait:
            expected += [("Announce", "succeeded"), ("Adder", "succeeded")]
        assert statuses == expected


async def test_a_session_timeout_stops_process_work(strategy: ProcessExecutionStrategy) -> None:
    announced: asyncio.Queue[int] = asyncio.Queue()
    session = _session(strategy, timeout=3600, broadcast_callback=announced.put)
    with pytest.raises(rt.SessionTimeoutError):
        async with session:
            running = asyncio.ensure_future(rt.call(AnnounceAndWait))
            pid = await announced.get()
            session._expire()  # what the session's timer does when the timeout passes
            await running
    assert process_gone(pid)
    (record,) = session.info.requests.values()
    assert record.status == "cancelled"


async def test_context_crosses_to_the_worker(strategy: ProcessExecutionStrategy) -> None:
    token = TENANT.set("acme")
    try:
        async with _session(strategy):
            assert await rt.call(Tenant) == "acme"
            assert await rt.call(Pid) != os.getpid()
    finally:
        TENANT.reset(token)


async def test_closers_registered_in_a_worker_run_when_its_task_ends(
    strategy: ProcessExecutionStrategy, tmp_path: Path
) -> None:
    closed = tmp_path / "closed"
    async with _session(strategy):
        pid = await rt.call(Closes, str(closed))
    assert closed.read_text() == f"closed in {pid}"


async def test_statistics(strategy: ProcessExecutionStrategy) -> None:
    before = strategy.statistics()
    async with _session(strategy):
        await rt.call_batch(Adder, range(6), range(6))
    after = strategy.statistics()
    assert after.tasks == before.tasks + 6
    assert after.busy == after.parked == after.queued == 0
    assert 1 <= after.workers == after.idle <= 2
    assert after.started >= after.workers


async def test_a_task_without_a_session_runs_on_the_coordinator() -> None:
    publisher = RTPublisher()
    coordinator = Coordinator(execution_modes={"process": ProcessExecutionStrategy(max_workers=1)})
    coordinator.start(publisher)
    try:
        response = await coordinator.submit(Task(request_id="r1", node=Adder(2, 3)), mode="process")
        assert isinstance(response, RequestSuccess) and response.result == 5
        # without a worker scope, calls a node makes run in a temporary session there
        response = await coordinator.submit(Task(request_id="r2", node=Parent(1)), mode="process")
        assert isinstance(response, RequestSuccess) and response.result == [2, 3]
    finally:
        coordinator.shutdown()
        await publisher.aclose()


def test_max_workers_is_checked() -> None:
    with pytest.raises(rt.ConfigurationError, match="max_workers"):
        ProcessExecutionStrategy(max_workers=0)
