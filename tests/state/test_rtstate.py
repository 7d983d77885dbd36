from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import runtree as rt
from runtree.execution.coordinator import Coordinator
from runtree.pubsub import FatalFailure, RTPublisher
from runtree.state import ExecutionInfo, ExecutorConfig, RequestObserver, RTState
from tests.support import Adder, Boom, Failing


def _state(**config: object) -> tuple[RTState, list[object]]:
    publisher = RTPublisher()
    seen: list[object] = []
    publisher.subscribe(seen.append)
    coordinator = Coordinator()
    coordinator.start(publisher)
    return RTState(
        ExecutionInfo(run_id="abcdef123"), ExecutorConfig(**config), coordinator, publisher
    ), seen


async def test_request_ids_are_unique_and_prefixed() -> None:
    state, _ = _state()
    for _ in range(3):
        await state.call_nodes(
            parent_node_id=None, request_id=None, node=Adder, args=(1, 1), kwargs={}
        )
    assert list(state.info.requests) == ["abcdef12-1", "abcdef12-2", "abcdef12-3"]
    await state.call_nodes(
        parent_node_id=None, request_id="mine", node=Adder, args=(1, 1), kwargs={}
    )
    assert "mine" in state.info.requests
    await state.publisher.aclose()


async def test_end_run_publishes_fatal_failure_once_and_refuses_new_calls(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state, seen = _state(end_on_error=True)
    state.track_tasks(True)
    with pytest.raises(Boom):
        await state.call_nodes(
            parent_node_id=None, request_id=None, node=Failing, args=(), kwargs={}
        )
    state.end_run(RuntimeError("second"))  # no effect: the run already ended
    with pytest.raises(rt.RunEndedError, match="the run ended after a failure") as caught:
        await state.call_nodes(
            parent_node_id=None, request_id=None, node=Adder, args=(1, 1), kwargs={}
        )
    assert isinstance(caught.value.__cause__, Boom)
    await state.publisher.aclose()
    fatal = [m for m in seen if isinstance(m, FatalFailure)]
    assert len(fatal) == 1 and isinstance(fatal[0].error, Boom)
    assert "ends: Boom" in caplog.text


async def test_unknown_mode_is_refused_before_recording() -> None:
    state, _ = _state()

    class Gpu(Adder):
        execution_mode = "gpu"

    with pytest.raises(rt.ConfigurationError, match="asks for execution mode 'gpu'"):
        await state.call_nodes(
            parent_node_id=None, request_id=None, node=Gpu, args=(1, 1), kwargs={}
        )
    assert len(state.info) == 0
    await state.publisher.aclose()


async def test_calls_from_another_thread_hop_to_the_state_loop() -> None:
    state, _ = _state()
    state.loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    seen_threads: list[int] = []

    async def where() -> int:
        seen_threads.append(threading.get_ident())
        return 1

    def from_thread() -> int:
        coroutine = state.call_nodes(
            parent_node_id=None, request_id=None, node=where, args=(), kwargs={}
        )
        return asyncio.run(coroutine)  # another loop, in another thread

    assert await asyncio.to_thread(from_thread) == 1
    assert seen_threads == [loop_thread]
    await state.publisher.aclose()


async def test_an_observer_given_at_construction_sees_every_request_and_may_answer() -> None:
    seen: list[tuple[str, str]] = []

    class Observer:
        def request_created(self, record: Any, node_class: Any) -> tuple[Any] | None:
            seen.append(("created", record.node_name))
            return (42,) if record.node_name == "answered" else None

        def request_ended(self, record: Any) -> None:
            seen.append((record.status, record.node_name))

    observer = Observer()
    assert isinstance(observer, RequestObserver)

    async def ran() -> int:
        return 1

    async def answered() -> int:
        raise AssertionError("the observer answers this one")

    publisher = RTPublisher()
    coordinator = Coordinator()
    coordinator.start(publisher)
    state = RTState(
        ExecutionInfo(run_id="r"), ExecutorConfig(), coordinator, publisher, observer=observer
    )
    assert await state.call_nodes(None, None, ran, (), {}) == 1
    assert await state.call_nodes(None, None, answered, (), {}) == 42
    await publisher.aclose()
    assert seen == [
        ("created", "ran"),
        ("succeeded", "ran"),
        ("created", "answered"),
    ]
    assert coordinator.state.statistics().succeeded == 2
