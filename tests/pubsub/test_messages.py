from __future__ import annotations

import runtree as rt
from runtree.pubsub.messages import RequestCreation, Streaming


def test_messages_answer_to_railtracks_field_names() -> None:
    created = RequestCreation(
        request_id="r2", parent_id="r1", node_name="n", args=(), kwargs={}, mode="thread"
    )
    assert (created.new_request_id, created.current_node_id, created.running_mode) == (
        "r2",
        "r1",
        "thread",
    )
    streamed = Streaming(item={"x": 1}, request_id="r2")
    assert (streamed.streamed_object, streamed.node_id) == ({"x": 1}, "r2")


async def test_a_subscriber_reads_them_during_a_run() -> None:
    seen: list[tuple[str, str | None, object]] = []

    @rt.function_node
    async def talk() -> None:
        await rt.broadcast("hi")

    async with rt.Session(store=None) as run:
        run.publisher.subscribe(
            lambda m: (
                seen.append((type(m).__name__, m.current_node_id, m.running_mode))
                if isinstance(m, RequestCreation)
                else seen.append((type(m).__name__, m.node_id, m.streamed_object))
            ),
            topics=(RequestCreation, Streaming),
        )
        await rt.call(talk)
    root = run.info.roots[0]
    assert seen == [("RequestCreation", None, "async"), ("Streaming", root, "hi")]
