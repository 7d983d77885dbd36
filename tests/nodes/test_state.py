from __future__ import annotations

import json
from pathlib import Path

import pytest

import runtree as rt
from runtree.nodes import NodeBuilder, NodeState
from tests.support import Adder


async def test_state_is_a_deep_copy() -> None:
    node = Adder(1, 2)
    node.extra = [1]  # type: ignore[attr-defined]
    state = NodeState(node)
    node.extra.append(2)  # type: ignore[attr-defined]
    copy = state.instantiate()
    assert copy.extra == [1]  # type: ignore[attr-defined]
    assert copy is not state.instantiate()


async def test_json_round_trip_keeps_details(tmp_path: Path) -> None:
    node = Adder(3, 4)
    await node.tracked_invoke()
    path = NodeState(node).save(tmp_path / "state.json")
    document = json.loads(path.read_text())
    assert document["class"] == "tests.support:Adder" and document["attributes"]["a"] == 3
    loaded = NodeState.load(path).instantiate()
    assert loaded.details["latency"].total_time == node.details["latency"].total_time
    assert await loaded.invoke() == 7


def test_json_names_the_attribute_it_cannot_write() -> None:
    node = Adder(1, 2)
    node.handle = object()  # type: ignore[attr-defined]
    with pytest.raises(rt.NodeStateError, match="attribute 'handle'"):
        NodeState(node).to_bytes("json")


def test_runtime_classes_need_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    built = NodeBuilder(Adder, class_name="Runtime").build()
    state = NodeState(built(1, 2))
    with pytest.raises(rt.NodeStateError, match="pickle"):
        state.to_bytes("json")
    monkeypatch.setenv("RT_NODE_SERIALISATION_FMT", "pickle")
    data = state.to_bytes()
    with pytest.raises(rt.NodeStateError, match="allow_pickle=True"):
        NodeState.from_bytes(data)
    assert NodeState.from_bytes(data, allow_pickle=True).instantiate().name() == "Adder"
    monkeypatch.setenv("RT_NODE_SERIALISATION_FMT", "yaml")
    with pytest.raises(rt.ConfigurationError, match="RT_NODE_SERIALISATION_FMT"):
        state.to_bytes()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x01garbage", "neither JSON nor pickle"),
        (b'{"hello": 1}', "not a runtree NodeState"),
        (b'{"runtree": "NodeState", "version": 99}', "unsupported version 99"),
        (
            b'{"runtree": "NodeState", "version": 1, "class": "no.such:Thing", '
            b'"attributes": {}, "details": {}}',
            "cannot import node class",
        ),
        (
            b'{"runtree": "NodeState", "version": 1, "class": "json:JSONDecoder", '
            b'"attributes": {}, "details": {}}',
            "not a runtree Node class",
        ),
        (b"RTNS-PICKLE-1\nnot a pickle", "allow_pickle"),
    ],
)
def test_corrupt_or_foreign_data(data: bytes, message: str) -> None:
    with pytest.raises(rt.NodeStateError, match=message):
        NodeState.from_bytes(data)


def test_missing_file() -> None:
    with pytest.raises(rt.NodeStateError, match="cannot read"):
        NodeState.load("/nonexistent/state.json")
