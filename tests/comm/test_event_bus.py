from __future__ import annotations

import asyncio

import pytest

import runtree.comm as comm
from runtree.errors import ConfigurationError


async def test_every_subscriber_gets_every_event() -> None:
    bus = comm.EventBus(name="bus")
    a: list[object] = []
    b: list[object] = []
    c: list[object] = []

    async def async_handler(event: comm.EventMessage) -> None:
        await asyncio.sleep(0)
        b.append(event.data)

    bus.on("data_update", lambda e: a.append(e.data), name="a")
    bus.on("data_update", async_handler, name="b")
    bus.on("data_update", lambda e: c.append(e.data), name="c")
    for i in range(10):
        result = await bus.emit("data_update", i, source="publisher")
        assert result.ok and result.delivered == 3
        assert result.event.subscribers == ("a", "b", "c")
        assert result.event.source == "publisher"
    assert a == b == c == list(range(10))
    stats = bus.statistics()
    assert (stats.emitted, stats.delivered, stats.failed) == (10, 30, 0)


async def test_wildcards_and_globs() -> None:
    bus = comm.EventBus()
    everything: list[str] = []
    data: list[str] = []
    exact: list[str] = []
    bus.on("*", lambda e: everything.append(e.event_name))
    bus.on("data.*", lambda e: data.append(e.event_name))
    bus.on("data.ready", lambda e: exact.append(e.event_name))
    for name in ("data.ready", "data.lost", "control", "data.ready"):
        await bus.emit(name)
    assert everything == ["data.ready", "data.lost", "control", "data.ready"]
    assert data == ["data.ready", "data.lost", "data.ready"]
    assert exact == ["data.ready", "data.ready"]
    assert [listener.pattern for listener in bus.handlers_for("data.ready")] == [
        "*",
        "data.*",
        "data.ready",
    ]


async def test_a_failing_handler_does_not_stop_the_others() -> None:
    bus = comm.EventBus(name="bus")
    seen: list[int] = []
    reported: list[comm.EventMessage] = []

    def boom(event: comm.EventMessage) -> None:
        raise RuntimeError("handler exploded")

    bus.on("tick", boom, name="boom")
    bus.on("tick", lambda e: seen.append(e.data), name="ok")
    bus.on("error", reported.append, name="errors")
    result = await bus.emit("tick", 1)
    assert seen == [1]
    assert not result.ok and result.delivered == 1
    (error,) = result.errors
    assert isinstance(error, comm.ErrorMessage)
    assert error.error_code == "handler_failed"
    assert error.message == "handler exploded"
    assert error.source == "bus:boom"
    assert error.correlation_id == result.event.id
    assert "RuntimeError" in error.stacktrace
    assert [r.data for r in reported] == [error]
    assert reported[0].event_name == comm.ERROR_EVENT
    assert bus.recent_errors() == (error,)
    stats = {h.name: h for h in bus.statistics().handlers}
    assert stats["boom"].failed == 1 and stats["ok"].delivered == 1


async def test_failures_of_error_handlers_do_not_loop() -> None:
    collected: list[comm.ErrorMessage] = []
    bus = comm.EventBus(on_error=collected.append)

    def always_fails(event: comm.EventMessage) -> None:
        raise ValueError(event.event_name)

    bus.on("*", always_fails)
    result = await bus.emit("x")
    assert len(result.errors) == 1
    # the "*" handler also failed on the "error" event: collected, not re-emitted
    assert [e.message for e in collected] == ["x", "error"]
    assert bus.statistics().emitted == 2


async def test_off() -> None:
    bus = comm.EventBus()
    got: list[object] = []
    handler = got.append
    bus.on("e", handler)
    listener = bus.on("e", lambda e: got.append("second"))
    assert bus.off("e", handler) == 1
    await bus.emit("e", 1)
    bus.off(listener)
    result = await bus.emit("e", 2)
    assert got == ["second"]
    assert not result.handled
    assert bus.statistics().unhandled == 1
    with pytest.raises(ConfigurationError):
        bus.off("e", handler)


async def test_emit_nowait_and_close() -> None:
    bus = comm.EventBus()
    got: list[object] = []

    async def handler(event: comm.EventMessage) -> None:
        await asyncio.sleep(0)
        got.append(event.data)

    bus.on("e", handler)
    tasks = [bus.emit_nowait("e", i) for i in range(5)]
    await bus.aclose()
    assert sorted(got) == list(range(5))  # type: ignore[type-var]
    assert all(t.result().ok for t in tasks)
    with pytest.raises(comm.ChannelClosedError):
        await bus.emit("e")
    assert bus.statistics().pending == 0


async def test_bad_arguments() -> None:
    bus = comm.EventBus()
    with pytest.raises(ConfigurationError):
        bus.on("", print)
    with pytest.raises(ConfigurationError):
        bus.on("e", 3)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        await bus.emit("data.*")
