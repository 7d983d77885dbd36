from __future__ import annotations

import datetime as dt
import json
import pickle

import pytest

import runtree.comm as comm
from runtree.comm.message import format_timestamp, parse_timestamp
from runtree.pubsub.messages import Message

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 1, 15, 10, 30, tzinfo=UTC)


def test_data_message_has_the_seed_shape() -> None:
    msg = comm.DataMessage(payload={"x": 1}, source="node_id", timestamp=T0)
    data = msg.to_dict()
    assert data == {
        "type": "data",
        "payload": {"x": 1},
        "id": msg.id,
        "source": "node_id",
        "timestamp": "2024-01-15T10:30:00Z",
    }
    assert len(msg.id) == 32
    int(msg.id, 16)


def test_every_type_round_trips_through_json() -> None:
    messages = [
        comm.DataMessage(payload=[1, "two"], source="a"),
        comm.ControlMessage(command="pause", target="worker", source="boss"),
        comm.EventMessage(event_name="data_ready", data={"n": 3}, subscribers=("n1", "n2")),
        comm.ErrorMessage(
            error_code="E001", message="Processing failed", source="n", stacktrace="..."
        ),
        comm.DataMessage(payload=None, correlation_id="abc"),
    ]
    for msg in messages:
        again = comm.message_from_json(msg.to_json())
        assert again == msg
        assert type(again) is type(msg)
        assert type(msg).from_dict(msg.to_dict()) == msg


def test_seed_dicts_without_id_or_timestamp_load() -> None:
    control = comm.message_from_dict({"type": "control", "command": "stop", "target": "node_id"})
    assert isinstance(control, comm.ControlMessage)
    assert control.command == "stop" and control.target == "node_id"
    assert control.timestamp.tzinfo is UTC
    event = comm.EventMessage.from_dict(
        {"type": "event", "event_name": "data_ready", "data": {}, "subscribers": ["node1", "node2"]}
    )
    assert event.subscribers == ("node1", "node2")
    error = comm.message_from_dict(
        {
            "type": "error",
            "error_code": "E001",
            "message": "Processing failed",
            "source": "n",
            "stacktrace": "...",
        }
    )
    assert isinstance(error, comm.ErrorMessage) and error.error_code == "E001"


def test_timestamps_are_utc_and_aware() -> None:
    msg = comm.DataMessage(payload=1)
    assert msg.timestamp.tzinfo is UTC
    plus2 = dt.timezone(dt.timedelta(hours=2))
    shifted = comm.DataMessage(payload=1, timestamp=dt.datetime(2024, 1, 15, 12, 30, tzinfo=plus2))
    assert shifted.timestamp == T0 and shifted.timestamp.tzinfo is UTC
    with pytest.raises(comm.MessageFormatError) as info:
        comm.DataMessage(payload=1, timestamp=dt.datetime(2024, 1, 1))
    assert info.value.field == "timestamp"
    assert format_timestamp(T0.replace(microsecond=5)) == "2024-01-15T10:30:00.000005Z"
    assert parse_timestamp("2024-01-15T12:30:00+02:00") == T0


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"payload": 1}, "type"),
        ({"type": "nope"}, "type"),
        ({"type": "data"}, "payload"),
        ({"type": "data", "payload": 1, "timestamp": "yesterday"}, "timestamp"),
        ({"type": "data", "payload": 1, "timestamp": "2024-01-15T10:30:00"}, "timestamp"),
        ({"type": "data", "payload": 1, "timestamp": 12}, "timestamp"),
        ({"type": "data", "payload": 1, "source": 3}, "source"),
        ({"type": "data", "payload": 1, "extra": 3}, "extra"),
        ({"type": "control", "command": "explode"}, "command"),
        ({"type": "control"}, "command"),
        ({"type": "event", "event_name": "x", "subscribers": "n1"}, "subscribers"),
        ({"type": "event"}, "event_name"),
        ({"type": "error", "error_code": "E1"}, "message"),
    ],
)
def test_bad_dicts_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(comm.MessageFormatError) as info:
        comm.message_from_dict(data)
    assert info.value.field == field
    assert field in str(info.value)
    assert isinstance(info.value, ValueError)


def test_from_dict_on_a_subclass_checks_the_type() -> None:
    with pytest.raises(comm.MessageFormatError, match="expected a 'data' message"):
        comm.DataMessage.from_dict({"type": "control", "command": "stop"})


def test_bad_json_and_non_mapping() -> None:
    with pytest.raises(comm.MessageFormatError, match="not valid JSON"):
        comm.message_from_json("{nope")
    with pytest.raises(comm.MessageFormatError, match="mapping"):
        comm.message_from_json("[1, 2]")


def test_unserialisable_payload_is_named_or_marked() -> None:
    msg = comm.DataMessage(payload={"when": object()})
    with pytest.raises(comm.MessageFormatError) as info:
        msg.to_json()
    assert info.value.field == "payload"
    lossy = json.loads(msg.to_json(lossy=True))
    assert lossy["payload"]["when"]["__runtree__"] == "unserialisable"


def test_error_message_from_exception() -> None:
    try:
        raise ValueError("bad value")
    except ValueError as exc:
        report = comm.ErrorMessage.from_exception(exc, source="node")
    assert report.error_code == "ValueError"
    assert report.message == "bad value"
    assert "Traceback" in report.stacktrace and "bad value" in report.stacktrace
    assert report.source == "node"


def test_envelopes_are_frozen_publishable_and_pickle() -> None:
    msg = comm.ControlMessage(command="resume", target="n")
    assert isinstance(msg, Message)
    assert msg.topic == "comm.control"
    assert "resume" in msg.log_message()
    with pytest.raises(AttributeError):
        msg.command = "stop"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(msg)) == msg
    for m in (
        comm.DataMessage(payload=1),
        comm.EventMessage(event_name="e"),
        comm.ErrorMessage(error_code="E", message="m"),
    ):
        assert m.log_message()
