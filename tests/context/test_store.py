"""rt.context: the run's shared key/value store."""

from __future__ import annotations

import pytest

import runtree as rt
from runtree.context import RunContext


def remember(key: str, value: str) -> None:
    rt.context.put(key, value)


def recall(key: str) -> str:
    value: str = rt.context.get(key, "missing")
    return value


async def async_recall(key: str) -> str:
    value: str = rt.context.get(key)
    return value


def test_values_given_to_the_session_are_visible_and_changes_stay_in_the_run() -> None:
    with rt.Session({"greeting": "hello"}, store=None):
        assert rt.context.get("greeting") == "hello"
        rt.context.put("name", "ada")
        rt.context.update({"a": 1, "b": 2})
        assert (rt.context.get("name"), rt.context.get("a"), rt.context.get("b")) == ("ada", 1, 2)
        rt.context.delete("a")
        assert rt.context.get("a", None) is None
        with pytest.raises(KeyError, match="'a' is not in the run context"):
            rt.context.get("a")
        with pytest.raises(KeyError):
            rt.context.delete("a")
    # a new run starts from its own values only
    with rt.Session(store=None), pytest.raises(KeyError):
        rt.context.get("greeting")


@pytest.mark.parametrize("mode", ["async", "thread"])
async def test_every_node_of_the_run_reads_and_writes_the_same_store(mode: str) -> None:
    async with rt.Session(context={"city": "Paris"}, store=None, execution_mode=mode) as run:
        assert await rt.call(recall, "city") == "Paris"
        await rt.call(remember, "weather", "sunny")  # a sync function: runs in a thread
        assert await rt.call(async_recall, "weather") == "sunny"
        assert await rt.call(recall, "nothing") == "missing"
    assert run.context.snapshot() == {"city": "Paris", "weather": "sunny"}


def test_outside_a_session_the_context_says_how_to_get_one() -> None:
    with pytest.raises(rt.ContextError, match="only available inside a session"):
        rt.context.get("anything")
    with pytest.raises(rt.ContextError):
        rt.context.put("k", 1)


def test_bad_keys_and_values_are_refused_with_a_clear_error() -> None:
    with pytest.raises(rt.ConfigurationError, match="context must be a mapping"):
        rt.Session(["not", "a", "mapping"], store=None)  # type: ignore[arg-type]
    store = RunContext({"a": 1})
    with pytest.raises(rt.ConfigurationError, match="keys must be str"):
        store.put(1, "x")  # type: ignore[arg-type]
    with pytest.raises(rt.ConfigurationError, match="needs a mapping"):
        store.update([("a", 2)])  # type: ignore[arg-type]
    assert store["a"] == 1 and "a" in store and len(store) == 1 and list(store) == ["a"]
