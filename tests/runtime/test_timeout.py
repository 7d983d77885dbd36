"""Session timeouts never record ``cancelled`` for a body that went on to completion, and
the session does not wait for a body that cannot be interrupted."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import runtree as rt
from runtree.pubsub.messages import FatalFailure
from runtree.store import SqliteRunStore

COMPLETED: set[int] = set()
_lock = threading.Lock()


class ThreadWork(rt.Node[int]):
    """Thread mode: a cancellation point, then a stretch no cancellation can interrupt."""

    execution_mode = "thread"

    def __init__(self, i: int):
        super().__init__()
        self.i = i

    async def invoke(self) -> int:
        await asyncio.sleep(0)
        time.sleep(0.05)  # noqa: ASYNC251 - work no cancellation can interrupt (no await left)
        with _lock:
            COMPLETED.add(self.i)
        return self.i


@pytest.mark.timeout(120)
async def test_thread_mode_timeout_records_what_really_happened(tmp_path: Path) -> None:
    COMPLETED.clear()
    session = rt.Session(timeout=0.1, store=tmp_path / "j.db")
    session.settle_timeout = 60  # wait for every running body, however loaded the machine
    with pytest.raises(rt.SessionTimeoutError):
        async with session:
            await rt.call_batch(ThreadWork, range(1000))  # 32 at a time: ~1.6 s of work
    records = list(session.info.requests.values())
    by_status: dict[str, set[int]] = {}
    for record in records:
        by_status.setdefault(record.status, set()).add(record.args[0])
    assert "running" not in by_status  # every body ended within the settle window
    assert by_status.get("succeeded", set()) == COMPLETED  # completed <=> recorded so
    assert by_status["cancelled"]  # the timeout came in the middle of the batch
    assert by_status["succeeded"]
    with SqliteRunStore(tmp_path / "j.db") as store:
        (run,) = store.list_runs()
        stored = {r.request_id: r.status for r in store.get_requests(run.run_id)}
    assert run.status == "timed_out"
    assert stored == {r.request_id: r.status for r in records}


class Stuck(rt.Node[str]):
    """A synchronous body that waits for the test to release it."""

    gate = threading.Event()
    started = threading.Event()

    def __init__(self) -> None:
        super().__init__()

    def invoke(self) -> str:
        Stuck.started.set()
        assert Stuck.gate.wait(30)
        return "released"


@pytest.fixture
def stuck() -> Iterator[type[Stuck]]:
    Stuck.gate, Stuck.started = threading.Event(), threading.Event()
    yield Stuck
    Stuck.gate.set()


async def test_timeout_does_not_wait_for_a_sync_body(
    stuck: type[Stuck], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="runtree"), pytest.raises(rt.SessionTimeoutError):
        async with rt.Session(timeout=0.05) as session:
            await rt.call(stuck)
    # the session closed while the body is still blocked: it was not waited for, and its
    # request is not recorded as cancelled (its outcome is unknown)
    assert not stuck.gate.is_set()
    (record,) = session.info.requests.values()
    assert record.status == "running"
    assert "still running when session" in caplog.text
    stuck.gate.set()


async def test_a_sync_body_ending_after_the_timeout_is_recorded_as_it_ended(
    stuck: type[Stuck],
) -> None:
    """Released right after the timeout (when FatalFailure is published): the request is
    recorded with the body's real result and end time, not as cancelled."""

    def release(message: FatalFailure) -> None:
        stuck.gate.set()

    with pytest.raises(rt.SessionTimeoutError):
        async with rt.Session(timeout=0.05) as session:
            session.publisher.subscribe(release, topics=FatalFailure)
            await rt.call(stuck)
    (record,) = session.info.requests.values()
    assert (record.status, record.output) == ("succeeded", "released")
    assert record.end_time is not None and record.end_time > record.start_time


def test_sync_session_timeout_with_a_sync_body(stuck: type[Stuck]) -> None:
    with pytest.raises(rt.SessionTimeoutError), rt.Session(timeout=0.05) as session:
        rt.call_sync(stuck)
    assert not stuck.gate.is_set()
    assert [r.status for r in session.info.requests.values()] == ["running"]


async def test_cancelled_caller_of_a_thread_node_that_finished_anyway() -> None:
    """The caller is cancelled while the node is in a stretch it cannot leave: the node
    finishes, and its request says so."""
    release = threading.Event()

    class Busy(rt.Node[str]):
        execution_mode = "thread"

        def __init__(self) -> None:
            super().__init__()

        async def invoke(self) -> str:
            Stuck.started.set()
            release.wait(30)
            return "finished"

    Stuck.started = threading.Event()
    async with rt.Session(store=None) as session:
        task = asyncio.create_task(rt.call(Busy))
        await asyncio.to_thread(Stuck.started.wait, 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
    (record,) = session.info.requests.values()
    assert (record.status, record.output) == ("succeeded", "finished")


def test_timeout_raised_at_the_next_call_once_past_the_deadline() -> None:
    """A sync session whose calls never wait still notices its deadline."""
    with pytest.raises(rt.SessionTimeoutError), rt.Session(timeout=0.01) as session:
        session._deadline = time.monotonic() - 1  # past it, without waiting for it
        rt.call_sync(lambda: 1)
    assert len(session.info) == 0
