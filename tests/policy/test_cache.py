"""ResultCache: keys, time to live, eviction, statistics."""

from __future__ import annotations

import pytest

import runtree as rt
from runtree.policy import MemoryCacheBackend, ResultCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_entries_live_ttl_seconds() -> None:
    clock = Clock()
    cache = ResultCache(ttl=10, clock=clock)
    key = cache.key_for((1, 2), {"x": "y"})
    assert key is not None
    assert cache.lookup("Adder", key) == (False, None)
    cache.store("Adder", key, 3)
    assert cache.lookup("Adder", key) == (True, 3)
    assert cache.lookup("Other", key) == (False, None)  # per node
    clock.now += 10
    assert cache.lookup("Adder", key) == (False, None)
    stats = cache.statistics()
    assert (stats.hits, stats.misses, stats.stored) == (1, 3, 1)


def test_arguments_that_are_not_json_are_not_cached() -> None:
    cache = ResultCache()
    assert cache.key_for((object(),), {}) is None
    assert cache.statistics().uncacheable == 1
    assert cache.key_for((1,), {"b": 2}) == cache.key_for((1,), {"b": 2})
    assert cache.key_for((1,), {"b": 2}) != cache.key_for((1,), {"b": 3})
    with pytest.raises(rt.ConfigurationError, match="must return str or None"):
        ResultCache(key=lambda *a, **k: 42).key_for((), {})


def test_the_least_recently_used_entries_go_first() -> None:
    backend = MemoryCacheBackend(max_entries=2)
    for key in ("a", "b"):
        backend.put("n", key, key, now=0, ttl=None)
    assert backend.get("n", "a", now=0) == (True, "a")  # "a" is now the most recent
    backend.put("n", "c", "c", now=0, ttl=None)
    assert backend.get("n", "b", now=0) == (False, None)
    assert len(backend) == 2 and backend.evicted == 1
