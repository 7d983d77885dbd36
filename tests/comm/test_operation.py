from __future__ import annotations

import pytest

import runtree.comm as comm
from runtree.errors import ConfigurationError


def test_filter_transform_compose_over_iterables() -> None:
    evens = comm.Filter(lambda x: x % 2 == 0, name="evens")
    square = comm.Transform(lambda x: x * x, name="square")
    flow = evens | square
    assert isinstance(flow, comm.Pipeline)
    assert list(flow.run(range(10))) == [0, 4, 16, 36, 64]
    assert flow(3) is comm.DROP
    assert flow(4) == 16
    stats = flow.statistics()
    assert (stats.seen, stats.passed, stats.dropped) == (12, 6, 6)
    assert [(s.name, s.seen, s.passed) for s in stats.stages] == [
        ("evens", 12, 6),
        ("square", 6, 6),
    ]


def test_pipeline_helper_flattens() -> None:
    a = comm.Transform(lambda x: x + 1)
    b = comm.Transform(lambda x: x * 10)
    c = comm.Filter(lambda x: x > 20)
    flow = comm.pipeline(a | b, c)
    assert len(flow.stages) == 3
    assert list(flow.run([1, 2, 3])) == [30, 40]
    with pytest.raises(ConfigurationError):
        comm.pipeline()
    with pytest.raises(ConfigurationError):
        comm.pipeline(a, print)  # type: ignore[arg-type]


def test_transform_can_drop_and_errors_pass_through() -> None:
    parse = comm.Transform(lambda s: int(s) if s.isdigit() else comm.DROP)
    assert list(parse.run(["1", "x", "3"])) == [1, 3]
    boom = comm.Transform(lambda s: int(s))
    with pytest.raises(ValueError):
        boom("x")
    assert boom.statistics().failed == 1


def test_router_reports_the_route_each_message_took() -> None:
    router = comm.Router(
        {
            "priority_queue": lambda m: m["type"] == "urgent",
            "batch_processor": lambda m: m["type"] == "bulk",
        },
        default="normal_queue",
        name="router",
    )
    messages = [{"type": "urgent"}, {"type": "bulk"}, {"type": "other"}, {"type": "urgent"}]
    routed = [router(m) for m in messages]
    assert [r.route for r in routed] == [
        "priority_queue",
        "batch_processor",
        "normal_queue",
        "priority_queue",
    ]
    assert routed[0].item is messages[0]
    assert router.statistics().routes == {
        "priority_queue": 2,
        "batch_processor": 1,
        "normal_queue": 1,
    }
    groups = router.split(messages)
    assert [len(groups[k]) for k in ("priority_queue", "batch_processor", "normal_queue")] == [
        2,
        1,
        1,
    ]


def test_router_without_default_raises() -> None:
    router = comm.Router([("small", lambda x: x < 10)], default=None)
    assert router.route(1) == "small"
    with pytest.raises(comm.RoutingError) as info:
        router.route(100)
    assert isinstance(info.value, LookupError)
    assert router.statistics().unrouted == 1


def test_router_at_the_end_of_a_pipeline() -> None:
    flow = comm.Filter(lambda x: x >= 0) | comm.Router({"small": lambda x: x < 10}, default="big")
    assert [(r.route, r.item) for r in flow.run([-1, 5, 50])] == [("small", 5), ("big", 50)]
    stages = flow.statistics().stages
    assert stages[1].kind == "router" and stages[1].passed == 2


async def test_operations_over_channels() -> None:
    source: comm.Channel[int] = comm.Channel("in")
    sink: comm.Channel[int] = comm.Channel("out")
    for i in range(6):
        source.send_nowait(i)
    source.close()
    flow = comm.Filter(lambda x: x % 3 != 0) | comm.Transform(lambda x: -x)
    assert await flow.pump(source, sink) == 4
    assert sink.closed
    assert [x async for x in sink] == [-1, -2, -4, -5]


async def test_stream_over_a_channel() -> None:
    source: comm.Channel[str] = comm.Channel("in")
    for word in ("a", "bb", "ccc"):
        source.send_nowait(word)
    source.close()
    lengths = comm.Transform(len)
    assert [n async for n in lengths.stream(source)] == [1, 2, 3]


async def test_router_forwards_to_one_sink_per_route() -> None:
    source: comm.Channel[int] = comm.Channel("in")
    for i in range(5):
        source.send_nowait(i)
    source.close()
    odd: comm.Channel[int] = comm.Channel("odd")
    even_queue: comm.MessageQueue[int] = comm.MessageQueue(max_size=10)
    logged: list[int] = []
    router = comm.Router({"odd": lambda x: x % 2 == 1, "zero": lambda x: x == 0}, default="even")
    counts = await router.forward(source, {"odd": odd, "even": even_queue, "zero": logged.append})
    assert counts == {"odd": 2, "zero": 1, "even": 2}
    assert [x async for x in odd] == [1, 3]
    assert [x async for x in even_queue] == [2, 4]
    assert logged == [0]
    with pytest.raises(ConfigurationError, match="no target"):
        await router.forward(source, {"odd": odd})


def test_bad_operations() -> None:
    with pytest.raises(ConfigurationError):
        comm.Filter(3)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        comm.Transform(None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        comm.Router([("r", 3)])  # type: ignore[list-item]
