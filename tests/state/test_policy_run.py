"""Node policies in the call path, the same on every execution strategy (the `mode`
fixture): retries as requests of their own, timeouts, a concurrency limit per node class
across the whole run, a rate limit, result caches (kept in the journal file across runs),
and resume. Time is the session's injected PolicyClock; what node bodies do in other
processes is counted in files."""

from __future__ import annotations

import asyncio
import itertools
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import runtree as rt
from runtree.policy import PolicyClock
from runtree.state.info import RequestRecord
from runtree.store import SqliteRunStore
from tests.state.policy_nodes import (
    CallsWithPolicy,
    DiesOnce,
    Doubled,
    Exclusive,
    FanOut,
    Flaky,
    Kept,
    Overlap,
    Stuck,
    Throttled,
    count,
)
from tests.support import Adder, Failing


class FakeTime:
    """A clock that moves only when someone sleeps; a sleep of ``hang`` seconds never
    ends (so a timeout of that length never fires)."""

    def __init__(self, hang: float | None = None) -> None:
        self.now = 0.0
        self.hang = hang
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds == self.hang:
            await asyncio.Event().wait()
        self.now += seconds
        await asyncio.sleep(0)

    def policy_clock(self) -> PolicyClock:
        return PolicyClock(
            monotonic=self.clock, wall=self.clock, sleep=self.sleep, random=lambda: 0.5
        )


def pending_cancellations() -> int:
    """Cancellations requested of the current task and not taken back (3.11+; else 0)."""
    return int(getattr(asyncio.current_task(), "cancelling", lambda: 0)())


def children(session: rt.Session, record: RequestRecord) -> list[RequestRecord]:
    return [session.info.requests[child] for child in record.children]


def roots(session: rt.Session) -> list[RequestRecord]:
    return [r for r in session.info.requests.values() if r.parent_id is None]


# -- retries -------------------------------------------------------------------------------


async def test_each_attempt_is_a_request_under_the_call(mode: str, tmp_path: Path) -> None:
    time = FakeTime()
    counter, journal = str(tmp_path / "runs"), tmp_path / "journal.db"
    clock = time.policy_clock()
    async with rt.Session(execution_mode=mode, store=journal, policy_clock=clock) as session:
        assert await rt.call(Flaky, counter, 2) == 7
    (call,) = roots(session)
    attempts = children(session, call)
    assert (call.node_name, call.status, call.output, call.attributes) == (
        "Flaky",
        "succeeded",
        7,
        None,
    )
    assert [(a.node_name, a.status, a.mode) for a in attempts] == [
        ("Flaky", "failed", mode),
        ("Flaky", "failed", mode),
        ("Flaky", "succeeded", mode),
    ]
    # the policy's number and what the node reported, side by side
    assert [a.attributes for a in attempts] == [
        {"runtree.attempt": n, "test.run": n} for n in (1, 2, 3)
    ]
    assert isinstance(attempts[0].error, ConnectionError)
    assert time.sleeps == [0.5, 1.0]  # exponential backoff from base_delay=0.5
    assert count(counter) == 3
    stats = session.state.policies.statistics()
    assert (stats.calls, stats.attempts, stats.retries) == (1, 3, 2)
    with SqliteRunStore(journal, readonly=True) as store:  # the journal shows them alike
        stored = store.get_requests(session.run_id)
    assert [(r.parent_id, r.status, r.attributes) for r in stored] == [
        (None, "succeeded", None),
        (call.request_id, "failed", {"runtree.attempt": 1, "test.run": 1}),
        (call.request_id, "failed", {"runtree.attempt": 2, "test.run": 2}),
        (call.request_id, "succeeded", {"runtree.attempt": 3, "test.run": 3}),
    ]
    assert stored[1].error["type"] == "ConnectionError" and stored[3].output == 7


async def test_the_last_failure_reaches_the_caller(mode: str, tmp_path: Path) -> None:
    time = FakeTime()
    counter = str(tmp_path / "runs")
    async with rt.Session(execution_mode=mode, policy_clock=time.policy_clock()) as session:
        with pytest.raises(ConnectionError, match="run 3 failed"):
            await rt.call(Flaky, counter, 5)
    (call,) = roots(session)
    assert call.status == "failed" and isinstance(call.error, ConnectionError)
    assert [a.status for a in children(session, call)] == ["failed"] * 3


async def test_a_retry_after_hint_sets_the_wait_and_a_long_one_stops_retrying(
    tmp_path: Path,
) -> None:
    time = FakeTime()
    async with rt.Session(store=None, policy_clock=time.policy_clock()):
        assert await rt.call(Flaky, str(tmp_path / "a"), 1, 3, 2.0) == 3
        assert time.sleeps == [2.0]
        with pytest.raises(Throttled):  # asks for 90 s, more than max_delay=60
            await rt.call(Flaky, str(tmp_path / "b"), 1, 3, 90.0)
    assert time.sleeps == [2.0] and count(tmp_path / "b") == 1


async def test_retry_on_and_errors_never_retried(tmp_path: Path) -> None:
    time = FakeTime()
    only_timeouts = rt.Policy(retry=rt.RetryPolicy(max_attempts=5, retry_on=TimeoutError))
    async with rt.Session(store=None, policy_clock=time.policy_clock()) as session:
        with rt.policy(only_timeouts), pytest.raises(ConnectionError):
            await rt.call(Flaky, str(tmp_path / "runs"), 1)
        with rt.policy(retry=5), pytest.raises(rt.NodeInvocationError):
            await rt.call(Adder, 1)  # bad arguments: nothing ran, nothing was recorded
    assert count(tmp_path / "runs") == 1 and time.sleeps == []
    assert [r.node_name for r in roots(session)] == ["Flaky"]
    with pytest.raises(rt.FatalError):  # it ends the run: never retried
        async with rt.Session(store=None, policy_clock=time.policy_clock()) as session:
            with rt.policy(retry=rt.RetryPolicy(max_attempts=5, retry_on=BaseException)):
                await rt.call(FatalOnce)
    (call,) = roots(session)
    assert len(call.children) == 1 and time.sleeps == []


class FatalOnce(rt.Node[None]):
    async def invoke(self) -> None:
        raise rt.FatalError("stop everything")


async def test_a_retried_failure_does_not_end_the_run_the_last_one_does(tmp_path: Path) -> None:
    time = FakeTime()
    async with rt.Session(
        store=None, end_on_error=True, policy_clock=time.policy_clock()
    ) as session:
        assert await rt.call(Flaky, str(tmp_path / "a"), 2) == 7
        assert session.state.ended_by is None
    with pytest.raises(ConnectionError):
        async with rt.Session(store=None, end_on_error=True, policy_clock=time.policy_clock()):
            await rt.call(Flaky, str(tmp_path / "b"), 9)


async def test_a_worker_that_dies_is_retried_per_policy(mode: str, tmp_path: Path) -> None:
    if mode in ("async", "thread"):
        pytest.skip("the node would run in the test's own process")
    counter = str(tmp_path / "runs")
    async with rt.Session(execution_mode=mode, store=None) as session:
        assert await rt.call(DiesOnce, counter) != os.getpid()
    (call,) = roots(session)
    first, second = children(session, call)
    assert (first.status, second.status, call.status) == ("failed", "succeeded", "succeeded")
    assert isinstance(first.error, rt.ExecutionError) and "DiesOnce" in str(first.error)
    assert count(counter) == 2


# -- timeouts ------------------------------------------------------------------------------


async def test_an_attempt_past_its_timeout_fails_and_is_retried(mode: str, tmp_path: Path) -> None:
    time = FakeTime()  # the timer ends at once: Stuck never does
    counter = str(tmp_path / "runs")
    policy = rt.Policy(timeout=5, retry=rt.RetryPolicy(max_attempts=2, base_delay=0.25))
    async with rt.Session(execution_mode=mode, policy_clock=time.policy_clock()) as session:
        with rt.policy(policy), pytest.raises(rt.NodeTimeoutError, match="timeout of 5s"):
            await rt.call(Stuck, counter)
    (call,) = roots(session)
    attempts = children(session, call)
    assert [a.status for a in attempts] == ["failed", "failed"]
    assert all(isinstance(a.error, rt.NodeTimeoutError) for a in attempts)
    assert isinstance(call.error, TimeoutError)  # NodeTimeoutError is a TimeoutError
    assert time.sleeps == [5, 0.25, 5]
    assert session.state.policies.statistics().timeouts == 2


async def test_a_call_within_its_timeout_is_untouched(mode: str) -> None:
    time = FakeTime(hang=30)  # the timer never ends
    async with rt.Session(execution_mode=mode, policy_clock=time.policy_clock()) as session:
        with rt.policy(timeout=30):
            assert await rt.call(Adder, 2, 3) == 5
    (call,) = roots(session)
    assert (call.status, call.children, call.attributes) == ("succeeded", [], None)


async def test_timeouts_on_the_loops_own_timers(mode: str, tmp_path: Path) -> None:
    """The real clock: Stuck never ends, so its timeout fires, however long that takes."""
    counter = str(tmp_path / "runs")
    async with rt.Session(execution_mode=mode, store=None) as session:
        with rt.policy(timeout=0.01), pytest.raises(rt.NodeTimeoutError, match="Stuck"):
            await rt.call(Stuck, counter)
        with rt.policy(timeout=60):
            assert await rt.call(Adder, 2, 3) == 5
        assert pending_cancellations() == 0  # the timeout's own was taken back
    assert [r.status for r in roots(session)] == ["failed", "succeeded"]
    assert session.statistics().policies.timeouts == 1


@pytest.mark.parametrize("clock", ["real", "injected"])
async def test_a_caller_that_cancels_during_a_timeout_gets_a_cancellation(
    clock: str, tmp_path: Path
) -> None:
    counter = str(tmp_path / "runs")
    options = {} if clock == "real" else {"policy_clock": FakeTime(hang=60).policy_clock()}
    async with rt.Session(store=None, **options) as session:  # type: ignore[arg-type]
        with rt.policy(timeout=60):
            call = asyncio.create_task(rt.call(Stuck, counter))
        while count(counter) == 0:
            await asyncio.sleep(0)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    assert [r.status for r in roots(session)] == ["cancelled"]
    assert session.statistics().policies.timeouts == 0


async def test_a_node_that_swallows_its_timeout_still_timed_out() -> None:
    time = FakeTime()
    async with rt.Session(store=None, policy_clock=time.policy_clock()) as session:
        with rt.policy(timeout=1), pytest.raises(rt.NodeTimeoutError):
            await rt.call(Stubborn)
        assert pending_cancellations() == 0  # the timeout's own was taken back
    assert roots(session)[0].status == "failed"


class Stubborn(rt.Node[str]):
    """Turns its cancellation into an answer."""

    async def invoke(self) -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return "not cancelled"
        return "unreachable"


# -- concurrency and rate limits -----------------------------------------------------------


async def test_a_node_limited_to_one_never_runs_twice_at_once(mode: str, tmp_path: Path) -> None:
    lock = str(tmp_path / "lock")
    async with rt.Session(execution_mode=mode) as session:
        spans = await rt.call_batch(Exclusive, [lock] * 20, range(20))
    spans.sort()
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans))
    (limit,) = session.state.policies.statistics().limits.values()
    assert (limit.peak, limit.acquired, limit.active, limit.waiting) == (1, 20, 0, 0)
    assert limit.waited >= 1


async def test_the_limit_holds_for_calls_made_inside_workers(mode: str, tmp_path: Path) -> None:
    lock = str(tmp_path / "lock")
    async with rt.Session(execution_mode=mode) as session:
        spans = await rt.call_batch(FanOut, [lock] * 2, [5, 5])
    flat = sorted(span for group in spans for span in group)
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(flat))
    (limit,) = session.state.policies.statistics().limits.values()
    assert (limit.peak, limit.acquired) == (1, 10)
    exclusive = [r for r in session.info.requests.values() if r.node_name == "Exclusive"]
    assert len(exclusive) == 10 and all(r.status == "succeeded" for r in exclusive)


async def test_an_overlap_is_what_the_limit_prevents(tmp_path: Path) -> None:
    """(The check above can fail: without the limit two runs collide.)"""
    lock = str(tmp_path / "lock")
    async with rt.Session(store=None):
        with rt.policy(max_concurrency=5):
            results = await rt.call_batch(Exclusive, [lock] * 5, range(5), return_exceptions=True)
    assert any(isinstance(result, Overlap) for result in results)


async def test_a_rate_limit_spaces_the_starts(mode: str) -> None:
    time = FakeTime()
    starts: list[float] = []
    async with rt.Session(execution_mode=mode, policy_clock=time.policy_clock()) as session:
        with rt.policy(rate_limit=(2, 1.0)):
            results = await rt.call_batch(Adder, range(5), [10] * 5)
        starts = [r.start_time for r in roots(session)]
    assert results == [10, 11, 12, 13, 14]
    assert time.now == 2.0  # 2 starts at 0, 2 at 1, 1 at 2 (fake seconds)
    assert sum(time.sleeps) == 2.0 and len(starts) == 5
    (limit,) = session.state.policies.statistics().limits.values()
    assert (limit.acquired, limit.waited) == (5, 3)


async def test_a_call_cancelled_while_it_waits_for_a_slot_is_recorded(tmp_path: Path) -> None:
    lock = str(tmp_path / "lock")
    async with rt.Session(store=None) as session:
        with rt.policy(max_concurrency=1):
            first = asyncio.create_task(rt.call(Stuck, str(tmp_path / "runs")))
            while count(tmp_path / "runs") == 0:
                await asyncio.sleep(0)
            waiting = asyncio.create_task(rt.call(Stuck, str(tmp_path / "runs")))
            await asyncio.sleep(0)
        (limit,) = session.state.policies.statistics().limits.values()
        assert limit.waiting == 1
        waiting.cancel()
        first.cancel()
        for task in (first, waiting):
            with pytest.raises(asyncio.CancelledError):
                await task
        (limit,) = session.state.policies.statistics().limits.values()
        assert (limit.active, limit.waiting) == (0, 0)
        with rt.policy(max_concurrency=1):
            assert await rt.call(Exclusive, lock, 0)
    assert [r.status for r in roots(session)] == ["cancelled", "cancelled", "succeeded"]


# -- caches --------------------------------------------------------------------------------


async def test_a_cache_hit_is_recorded_and_runs_nothing(mode: str, tmp_path: Path) -> None:
    counter = str(tmp_path / "runs")
    async with rt.Session(execution_mode=mode) as session:
        assert await rt.call(Doubled, counter, 4) == 8
        assert await rt.call(Doubled, counter, 4) == 8
        assert await rt.call(Doubled, counter, 5) == 10
    assert count(counter) == 2
    assert [(r.output, r.attributes) for r in roots(session)] == [
        (8, None),
        (8, {"runtree.cache": "hit"}),
        (10, None),
    ]
    stats = session.statistics().policies
    assert stats.cache_hits == 1
    assert stats.caches["Doubled cache"].hits == 1


async def test_a_persistent_cache_serves_the_next_run(mode: str, tmp_path: Path) -> None:
    journal, counter = tmp_path / "journal.db", str(tmp_path / "runs")
    async with rt.Session(execution_mode=mode, store=journal) as first:
        assert await rt.call(Kept, counter, 3) == {"double": 6, "pair": (3, 3)}
    async with rt.Session(execution_mode=mode, store=journal) as second:
        assert await rt.call(Kept, counter, 3) == {"double": 6, "pair": (3, 3)}
        assert await rt.call(Kept, counter, 4) == {"double": 8, "pair": (4, 4)}
    assert count(counter) == 2  # x=3 ran once, in the first run
    with SqliteRunStore(journal, readonly=True) as store:
        stored = store.get_requests(second.run_id)
        assert [(r.node_name, r.attributes) for r in stored] == [
            ("Kept", {"runtree.cache": "hit"}),
            ("Kept", None),
        ]
        assert store.get_requests(first.run_id)[0].attributes is None


async def test_cache_entries_expire_after_their_ttl(tmp_path: Path) -> None:
    time = FakeTime()
    journal, counter = tmp_path / "journal.db", str(tmp_path / "runs")
    async with rt.Session(store=journal, policy_clock=time.policy_clock()):
        await rt.call(Kept, counter, 1)
    time.now += 3601
    async with rt.Session(store=journal, policy_clock=time.policy_clock()) as session:
        await rt.call(Kept, counter, 1)
        await rt.call(Kept, counter, 1)  # stored again by the call before
    assert count(counter) == 2
    assert [r.attributes for r in roots(session)] == [None, {"runtree.cache": "hit"}]


async def test_a_persistent_cache_without_a_journal_stays_in_memory(tmp_path: Path) -> None:
    counter = str(tmp_path / "runs")
    async with rt.Session(store=None):
        await rt.call(Kept, counter, 2)
        await rt.call(Kept, counter, 2)
    async with rt.Session(store=None):
        await rt.call(Kept, counter, 2)
    assert count(counter) == 2


async def test_a_key_function_decides_which_calls_are_the_same(tmp_path: Path) -> None:
    counter = str(tmp_path / "runs")
    by_length = rt.CachePolicy(key=lambda counter, x: f"{len(x)}")

    async with rt.Session(store=None) as session:
        with rt.policy(cache=by_length):
            await rt.call(Doubled, counter, "ab")  # "abab"
            assert await rt.call(Doubled, counter, "cd") == "abab"  # same key: the same output
        with rt.policy(cache=rt.CachePolicy(key=lambda *args: None)):
            await rt.call(Doubled, counter, "ab")  # a key of None: not cached
    assert count(counter) == 2
    stats = session.state.policies.statistics().caches
    assert sorted((s.hits, s.uncacheable) for s in stats.values()) == [(0, 1), (1, 0)]


# -- where policies come from --------------------------------------------------------------


async def test_a_block_applies_to_calls_made_directly_in_it(tmp_path: Path) -> None:
    time = FakeTime(hang=9)
    counter = str(tmp_path / "runs")
    async with rt.Session(store=None, policy_clock=time.policy_clock()) as session:
        with rt.policy(retry=4):  # replaces Flaky's retry option (4 attempts, default backoff)
            assert await rt.call(Flaky, counter, 3) == 7
        with rt.policy(timeout=9):
            assert await rt.call(PlainParent, 1) == [2, 3]
    flaky, parent = roots(session)
    assert len(flaky.children) == 4
    assert time.sleeps[:3] == [1.0, 2.0, 4.0]  # RetryPolicy(max_attempts=4)
    assert time.sleeps[3:] in ([], [9])  # PlainParent's timer (if it started), no Adder's
    assert [r.node_name for r in children(session, parent)] == ["Adder", "Adder"]
    assert session.state.policies.statistics().calls == 2  # Flaky and PlainParent only


class PlainParent(rt.Node[list[int]]):
    def __init__(self, base: int) -> None:
        super().__init__()
        self.base = base

    async def invoke(self) -> list[int]:
        return [await rt.call(Adder, self.base, 1), await rt.call(Adder, self.base, 2)]


async def test_a_block_inside_a_worker_travels_with_its_calls(mode: str, tmp_path: Path) -> None:
    time = FakeTime()
    counter = str(tmp_path / "runs")
    async with rt.Session(execution_mode=mode, policy_clock=time.policy_clock()) as session:
        assert await rt.call(CallsWithPolicy, counter) == 7
    (parent,) = roots(session)
    (flaky,) = children(session, parent)
    assert [a.status for a in children(session, flaky)] == ["failed"] * 3 + ["succeeded"]
    assert time.sleeps == [0.25, 0.5, 1.0]


async def test_calls_without_a_policy_cost_nothing(mode: str) -> None:
    async with rt.Session(execution_mode=mode) as session:
        assert await rt.call_batch(Adder, [1, 2], [3, 4]) == [4, 6]
    stats = session.state.policies.statistics()
    assert (stats.calls, stats.limits, stats.caches) == (0, {}, {})
    assert all(r.attributes is None and not r.children for r in roots(session))


# -- resume --------------------------------------------------------------------------------


async def test_resume_answers_finished_calls_with_a_policy(tmp_path: Path) -> None:
    time = FakeTime()
    journal, counter, cached = tmp_path / "j.db", str(tmp_path / "runs"), str(tmp_path / "c")
    flag = tmp_path / "fail"
    flag.touch()
    with pytest.raises(ValueError, match="boom"):
        async with rt.Session(store=journal, policy_clock=time.policy_clock()) as first:
            await rt.call(Steps, counter, cached, str(flag))
    flag.unlink()
    async with rt.Session(store=journal, resume=first.run_id) as second:
        assert await rt.call(Steps, counter, cached, str(flag)) == [7, 8]
    assert count(counter) == 2  # Flaky: two runs in the first run, none in the second
    assert count(cached) == 1
    replayed = [r for r in second.info.requests.values() if r.node_name in ("Flaky", "Doubled")]
    assert [(r.node_name, r.status, r.children) for r in replayed] == [
        ("Flaky", "succeeded", []),
        ("Doubled", "succeeded", []),
    ]


class Steps(rt.Node[list[int]]):
    """Flaky, then Doubled, then a failure while the file ``flag`` exists."""

    def __init__(self, counter: str, cached: str, flag: str) -> None:
        super().__init__()
        self.counter, self.cached, self.flag = counter, cached, flag

    async def invoke(self) -> list[int]:
        results = [await rt.call(Flaky, self.counter, 1), await rt.call(Doubled, self.cached, 4)]
        if _exists(self.flag):
            await rt.call(Failing, "boom")
        return results


def _exists(path: str) -> bool:
    return Path(path).exists()


def test_a_session_takes_only_a_policy_clock() -> None:
    with pytest.raises(
        rt.ConfigurationError, match=r"^policy_clock must be a runtree.policy.PolicyClock, got 3$"
    ):
        rt.Session(store=None, policy_clock=3)  # type: ignore[arg-type]


def test_policies_reach_sync_code(tmp_path: Path) -> None:
    time = FakeTime()
    with rt.Session(store=None, policy_clock=time.policy_clock()) as session:
        assert rt.call_sync(Flaky, str(tmp_path / "runs"), 1) == 7
    (call,) = roots(session)
    assert len(call.children) == 2 and time.sleeps == [0.5]


# -- no policy, no cost --------------------------------------------------------------------

_NO_POLICY = """
import asyncio, pickle, sys
import runtree as rt
from runtree.policy.policy import POLICY_USE
from runtree.state import state

def never(*args, **kwargs):
    raise AssertionError("a call looked for a policy")

state.effective_policy = never

@rt.function_node
def add(a, b):
    return a + b

async def main():
    async with rt.Session(store=None):
        return await rt.call(add, 1, 2)

print(asyncio.run(main()), POLICY_USE.seen)
pickle.loads(sys.stdin.buffer.read())  # a policy sent by another process
print(POLICY_USE.seen)
"""


def test_a_process_that_made_no_policy_never_looks_for_one() -> None:
    sent = pickle.dumps(rt.Policy(retry=2, timeout=3))
    result = subprocess.run(
        [sys.executable, "-c", _NO_POLICY], input=sent, capture_output=True, check=True, timeout=60
    )
    assert result.stdout.decode().split() == ["3", "False", "True"]
    assert pickle.loads(sent) == rt.Policy(retry=2, timeout=3)
