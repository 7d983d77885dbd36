"""prep/exec/post nodes: linear pipelines, sync and async steps, retries, fallback."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import runtree as rt
import runtree.graph as rg
from runtree.errors import ConfigurationError

from .helpers import SleepRecorder, names, tree


class Load(rg.Node):
    def exec(self, prep_res: Any) -> list[int]:
        return [3, 1, 2]

    def post(self, shared: Any, prep_res: Any, exec_res: list[int]) -> None:
        shared["items"] = exec_res


class Sort(rg.Node):
    async def prep(self, shared: Any) -> list[int]:
        return list(shared["items"])

    async def exec(self, items: list[int]) -> list[int]:
        await asyncio.sleep(0)
        return sorted(items)

    async def post(self, shared: Any, prep_res: Any, exec_res: list[int]) -> str:
        shared["sorted"] = exec_res
        return "default"


class Total(rg.Node):
    def prep(self, shared: Any) -> list[int]:
        return shared["sorted"]

    def exec(self, items: list[int]) -> int:
        return sum(items)

    def post(self, shared: Any, prep_res: Any, exec_res: int) -> str:
        shared["total"] = exec_res
        return "done"


async def test_linear_pipeline_runs_in_order_and_returns_result() -> None:
    load, sort, total = Load(), Sort(), Total()
    assert (load >> sort >> total) is total
    shared: dict[str, Any] = {}
    result = await rg.Graph(load, name="pipeline").run(shared)
    assert shared == {"items": [3, 1, 2], "sorted": [1, 2, 3], "total": 6}
    assert result.path == ("Load", "Sort", "Total")
    assert result.steps == 3
    assert result.action == "done"
    assert result.last_node == "Total"
    assert result.result == 6
    assert result.completed
    assert result.shared is shared


async def test_steps_and_attempts_are_requests_of_the_session() -> None:
    load, sort = Load(), Sort()
    load >> sort
    async with rt.Session() as session:
        result = await rg.Graph(load, name="flow").run({})
    assert tree(session) == [
        (0, "flow", "succeeded"),
        (1, "Load", "succeeded"),
        (2, "Load.exec", "succeeded"),
        (1, "Sort", "succeeded"),
        (2, "Sort.exec", "succeeded"),
    ]
    root = session.info.root_requests()[0]
    assert rg.GraphResult.from_record(root.output, result.shared) == result
    step = session.info.children(root.request_id)[0]
    outcome = rg.StepOutcome.from_record(step.output)
    assert outcome.node == "Load"
    assert outcome.action is None
    assert outcome.result == [3, 1, 2]
    assert outcome.attempts == 1
    # the journal has what each step changed in the shared store
    assert step.output["shared"] == {"set": [["items", [3, 1, 2]]]}


async def test_run_outside_a_session_opens_its_own() -> None:
    load = Load()
    result = await rg.Graph(load).run()
    assert result.shared == {"items": [3, 1, 2]}


def test_run_sync() -> None:
    load, sort = Load(), Sort()
    load >> sort
    with rt.Session() as session:
        result = rg.Graph(load, name="sync-flow").run_sync({})
    assert result.path == ("Load", "Sort")
    assert names(session)[0] == "sync-flow"


async def test_sync_exec_runs_on_the_loop_thread_unless_exec_in_thread() -> None:
    seen: dict[str, int] = {}

    class Inline(rg.Node):
        def prep(self, shared: Any) -> None:
            seen["prep"] = threading.get_ident()

        def exec(self, prep_res: Any) -> None:
            seen["inline"] = threading.get_ident()

    class Threaded(rg.Node):
        exec_in_thread = True

        def exec(self, prep_res: Any) -> None:
            seen["threaded"] = threading.get_ident()

        def post(self, shared: Any, prep_res: Any, exec_res: Any) -> None:
            seen["post"] = threading.get_ident()

    inline = Inline()
    inline >> Threaded() >> Inline(exec_in_thread=True, name="per-instance")
    await rg.Graph(inline).run()
    here = threading.get_ident()
    assert seen["prep"] == here
    assert seen["post"] == here
    assert seen["threaded"] != here
    assert seen["inline"] != here  # the last step: exec_in_thread=True for that instance only


async def test_a_sqlite_connection_made_in_prep_works_in_exec_and_post(tmp_path: Any) -> None:
    import sqlite3

    made: list[sqlite3.Connection] = []

    class Query(rg.Node):
        def prep(self, shared: Any) -> sqlite3.Connection:
            connection = sqlite3.connect(shared["db"])  # bound to the thread that made it
            made.append(connection)
            connection.execute("create table if not exists t (x int)")
            connection.executemany("insert into t values (?)", [(1,), (2,), (3,)])
            return connection

        def exec(self, connection: sqlite3.Connection) -> int:
            return int(connection.execute("select sum(x) from t").fetchone()[0])

        def post(self, shared: Any, connection: sqlite3.Connection, exec_res: int) -> None:
            connection.close()
            shared["total"] = exec_res

    result = await Query().run({"db": str(tmp_path / "data.db")})
    assert result.shared["total"] == 6

    class Threaded(Query):
        exec_in_thread = True

    with pytest.raises(sqlite3.ProgrammingError, match="thread"):
        await Threaded().run({"db": str(tmp_path / "data.db")})
    for connection in made:  # the failed run's post did not close its connection
        connection.close()


async def test_post_returning_none_is_default_and_custom_name() -> None:
    first = Load(name="first")
    second = Load(name="second")
    first >> second
    result = await rg.Graph(first).run()
    assert result.path == ("first", "second")
    assert result.action is None  # what the last post returned


async def test_options_are_positional_like_pocketflow_and_kaygraph() -> None:
    node = Flaky(2)
    assert (node.max_retries, node.wait, node.name) == (1, 0.0, "Flaky")
    positional = Load(3, 0.5, "load")
    assert (positional.max_retries, positional.wait, positional.name) == (3, 0.5, "load")
    batch = rg.ParallelBatchNode(2, 0, "items")
    assert (batch.max_retries, batch.name, batch.exec_in_thread) == (2, "items", True)


class Flaky(rg.Node):
    """Fails ``failures`` times, then returns the attempt number."""

    def __init__(self, failures: int, **options: Any) -> None:
        super().__init__(**options)
        self.failures = failures
        self.calls = 0
        self.retries_seen: list[int] = []

    def exec(self, prep_res: Any) -> int:
        self.calls += 1
        self.retries_seen.append(self.cur_retry)
        if self.attempt <= self.failures:
            raise ConnectionError(f"attempt {self.attempt} failed")
        return self.attempt

    def post(self, shared: Any, prep_res: Any, exec_res: int) -> None:
        shared["answer"] = exec_res
        shared["calls"] = self.calls
        shared["cur_retry"] = self.retries_seen


async def test_retries_until_success_and_records_each_attempt() -> None:
    sleep = SleepRecorder()
    flaky = Flaky(2, max_retries=3, wait=0.5, backoff="exponential", sleep=sleep)
    async with rt.Session() as session:
        result = await rg.Graph(flaky).run()
    assert result.shared == {"answer": 3, "calls": 3, "cur_retry": [0, 1, 2]}
    assert sleep.delays == [0.5, 1.0]
    attempts = [(name, status) for _, name, status in tree(session) if name == "Flaky.exec"]
    assert attempts == [
        ("Flaky.exec", "failed"),
        ("Flaky.exec", "failed"),
        ("Flaky.exec", "succeeded"),
    ]
    step = rg.StepOutcome.from_record(
        next(r for _, r in session.info.walk() if r.node_name == "Flaky").output
    )
    assert step.attempts == 3
    assert not step.fallback
    stats = flaky.statistics()
    assert (stats.steps, stats.attempts, stats.retries, stats.failures) == (1, 3, 2, 0)
    assert flaky.calls == 0  # the definition is untouched: runs work on copies


async def test_exhausted_retries_raise_the_nodes_own_exception() -> None:
    flaky = Flaky(5, max_retries=2, sleep=SleepRecorder())
    with pytest.raises(ConnectionError, match="attempt 2 failed"):
        await rg.Graph(flaky).run()
    assert flaky.statistics().failures == 1


async def test_fallback_after_retries() -> None:
    sleep = SleepRecorder()

    class WithFallback(Flaky):
        def exec_fallback(self, prep_res: Any, exc: BaseException) -> int:
            assert isinstance(exc, ConnectionError)
            return -1

    node = WithFallback(10, max_retries=3, wait=1.0, backoff="linear", sleep=sleep)
    async with rt.Session() as session:
        result = await rg.Graph(node).run()
    assert result.shared["answer"] == -1
    assert sleep.delays == [1.0, 2.0]
    step = rg.StepOutcome.from_record(
        next(r for _, r in session.info.walk() if r.node_name == "WithFallback").output
    )
    assert step.fallback
    assert step.attempts == 3
    assert node.statistics().fallbacks == 1


async def test_retry_on_limits_which_errors_are_retried() -> None:
    class OnlyTimeouts(Flaky):
        retry_on = (TimeoutError,)

    node = OnlyTimeouts(1, max_retries=5, sleep=SleepRecorder())
    with pytest.raises(ConnectionError):
        await rg.Graph(node).run()
    assert node.statistics().attempts == 1


async def test_a_retry_after_hint_sets_the_wait() -> None:
    class Throttled(Exception):
        retry_after = 4.0

    class Throttling(Flaky):
        def exec(self, prep_res: Any) -> int:
            if self.attempt == 1:
                raise Throttled
            return self.attempt

    sleep = SleepRecorder()
    node = Throttling(0, max_retries=2, wait=0.5, sleep=sleep)
    async with rt.Session() as session:
        result = await rg.Graph(node).run()
    assert result.shared["answer"] == 2 and sleep.delays == [4.0]
    attempts = [r.attributes for _, r in session.info.walk() if r.node_name == "Throttling.exec"]
    assert attempts == [{"runtree.attempt": 1}, {"runtree.attempt": 2}]


async def test_max_wait_caps_the_backoff() -> None:
    node = Flaky(0, wait=1.0, backoff="exponential", max_wait=3.0)
    assert [node.retry_delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_retries": 0}, "max_retries"),
        ({"max_retries": -1}, "max_retries"),
        ({"exec_in_thread": "yes"}, "exec_in_thread"),
        ({"wait": -0.1}, "wait"),
        ({"backoff": "random"}, "backoff"),
        ({"sleep": 3}, "sleep"),
    ],
)
def test_bad_options_fail_at_construction(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Flaky(0, **options)


async def test_steps_stay_async_whatever_the_session_mode(mode: str) -> None:
    """Steps share the store, so they always run in the event loop; calls made inside
    ``exec`` use the session's mode."""
    from tests.support import Adder

    class CallsAdder(rg.Node):
        async def exec(self, prep_res: Any) -> int:
            return await rt.call(Adder, 2, 3)

        def post(self, shared: Any, prep_res: Any, exec_res: int) -> None:
            shared["sum"] = exec_res

    async with rt.Session(execution_mode=mode) as session:
        result = await rg.Graph(CallsAdder()).run({})
    assert result.shared == {"sum": 5}
    modes = {r.node_name: r.mode for _, r in session.info.walk()}
    assert modes == {
        "Graph": "async",
        "CallsAdder": "async",
        "CallsAdder.exec": "async",
        "Adder": mode,
    }


async def test_sync_exec_in_a_thread_can_call_nodes_with_call_sync() -> None:
    from tests.support import Adder

    class SyncCaller(rg.Node):
        exec_in_thread = True

        def exec(self, prep_res: Any) -> int:
            return rt.call_sync(Adder, 20, 22)

    async with rt.Session() as session:
        result = await rg.Graph(SyncCaller()).run()
    assert result.result == 42
    assert tree(session)[-1] == (3, "Adder", "succeeded")  # a child of the exec attempt


async def test_cancelling_a_run_cancels_its_steps_and_records_them() -> None:
    started = asyncio.Event()

    class Hang(rg.ParallelBatchNode[int, None]):
        def prep(self, shared: Any) -> range:
            return range(3)

        async def exec(self, item: int) -> None:
            if item == 2:
                started.set()
            await asyncio.Event().wait()

    async with rt.Session() as session:
        task = asyncio.ensure_future(rg.Graph(Hang(), name="hanging").run())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    statuses = [status for _, _, status in tree(session)]
    assert statuses == ["cancelled"] * 5
