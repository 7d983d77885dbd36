"""The journal records what happened, when it happened: inputs at creation, outputs at the
end, never read later from live objects; exact JSON where it can, sealed pickles else."""

from __future__ import annotations

import pickle
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest

import runtree as rt
from runtree.store import SqliteRunStore
from runtree.store.value import (
    MAX_TRACEBACK_FRAMES,
    decode_output,
    encode_error,
    encode_output,
    format_traceback,
    seal,
    unseal,
)

KEY = b"k" * 32


async def test_outputs_and_inputs_are_captured_when_they_happen(
    db: Path, reader: SqliteRunStore
) -> None:
    async def collect(items: dict[str, Any]) -> list[int]:
        result = list(items["numbers"])
        items["numbers"].append(99)  # the node changes its input after the call began
        return result

    async with rt.Session(store=db) as session:
        arguments = {"numbers": [1, 2]}
        returned = await rt.call(collect, arguments)
        returned.append(1000)  # the caller changes the returned list afterwards
        arguments["numbers"].clear()
    reader.open()
    (request,) = reader.get_requests(session.run_id)
    assert request.inputs == {"args": [{"numbers": [1, 2]}], "kwargs": {}}
    assert request.output == [1, 2]


@pytest.mark.parametrize(
    "value",
    [[1, "a", None, 2.5, True], {"b": 1, "a": [1, {"z": None}]}, "text", 10**17, -0.0, []],
)
def test_json_exact_values_are_replayed_from_json_without_a_pickle(value: Any) -> None:
    text, replay, replayable = encode_output(value, key=KEY)
    assert (replay, replayable) == (None, 1)
    back = decode_output(text, None)
    assert back == value and type(back) is type(value)
    if isinstance(value, dict):
        assert list(back) == list(value)  # keys keep their order


@pytest.mark.parametrize(
    "value",
    [(1, 2), {1: "int key"}, {"s": {1, 2}}, [float("nan")], 10**5000, b"bytes"],
    ids=["tuple", "int-key", "set", "nan", "huge-int", "bytes"],
)
def test_other_values_keep_a_sealed_pickle(value: Any) -> None:
    text, replay, replayable = encode_output(value, key=KEY)
    assert replayable == 1 and replay is not None
    data = unseal(KEY, replay)
    assert data is not None
    back = decode_output(text, data)
    assert type(back) is type(value)
    assert pickle.dumps(back) == pickle.dumps(value)  # (nan != nan; huge ints have no repr)
    # without a key nothing is pickled, and nothing claims to be replayable
    assert encode_output(value, key=None)[1:] == (None, 0)


def test_a_huge_int_is_never_replayable_and_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(sys, "set_int_max_str_digits"):
        pytest.skip("no int/str conversion limit on this Python")
    huge = 7**9000
    text, replay, replayable = encode_output(huge, key=None)
    assert "__runtree__" in text and (replay, replayable) == (None, 0)
    text, replay, replayable = encode_output(huge, key=KEY)
    assert replay is not None and decode_output(text, unseal(KEY, replay)) == huge


def test_seal_refuses_changed_data_and_other_keys() -> None:
    blob = seal(KEY, pickle.dumps([1, 2]))
    assert unseal(KEY, blob) == pickle.dumps([1, 2])
    assert unseal(b"x" * 32, blob) is None
    changed = blob[:-1] + bytes([blob[-1] ^ 1])
    assert unseal(KEY, changed) is None
    assert unseal(KEY, pickle.dumps([1, 2])) is None  # not sealed at all


class _Mute(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no words")


def test_errors_whose_str_fails_are_encoded() -> None:
    import json

    data = json.loads(encode_error(_Mute()))
    assert data["type"].endswith("_Mute") and "str() of _Mute failed" in data["message"]


async def test_an_exception_whose_str_fails_reaches_the_caller_and_the_run_closes(
    db: Path, reader: SqliteRunStore
) -> None:
    async def mute() -> None:
        raise _Mute()

    with pytest.raises(_Mute):
        async with rt.Session(store=db) as session:
            await rt.call(mute)
    reader.open()
    run = reader.get_run(session.run_id)
    assert run.status == "failed" and run.error is not None and "_Mute" in run.error
    (request,) = reader.get_requests(session.run_id)
    assert request.status == "failed" and request.error["type"].endswith("_Mute")


def _deep(n: int) -> None:
    if n == 0:
        raise ValueError("bottom")
    _deep(n - 1)


def test_deep_tracebacks_are_bounded_and_formatted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        _deep(400)
    except ValueError as exc:
        error = exc
    text = format_traceback(error)
    assert 'File "' in text and text.count('File "') <= MAX_TRACEBACK_FRAMES
    assert "ValueError: bottom" in text and len(text) < 8000
    calls: list[int] = []
    original = traceback.format_exception

    def counting(*args: Any, **kwargs: Any) -> list[str]:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(traceback, "format_exception", counting)
    assert format_traceback(error) == text  # the same exception: formatted once
    assert calls == []


def test_long_chains_of_exceptions_are_cut() -> None:
    error: BaseException | None = None
    for i in range(50):
        try:
            try:
                if error is not None:
                    raise error
                raise KeyError(i)
            except BaseException as inner:
                raise ValueError(f"level {i}") from inner
        except ValueError as outer:
            error = outer
    assert error is not None
    text = format_traceback(error)
    assert "earlier chained exceptions not shown" in text
    assert text.count("Traceback (most recent call last)") <= 6
    assert "level 49" in text


async def test_nested_failures_are_recorded_with_bounded_tracebacks(
    db: Path, reader: SqliteRunStore
) -> None:
    async def nest(depth: int) -> int:
        if depth == 0:
            raise ValueError("deep down")
        return await rt.call(nest, depth - 1)

    with pytest.raises(ValueError, match="deep down"):
        async with rt.Session(store=db) as session:
            await rt.call(nest, 60)
    reader.open()
    requests = reader.get_requests(session.run_id)
    assert len(requests) == 61 and {r.status for r in requests} == {"failed"}
    assert max(r.error["traceback"].count('File "') for r in requests) <= MAX_TRACEBACK_FRAMES
