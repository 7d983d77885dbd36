"""``ResultCache``: reuse a node's output for the same inputs.

The key of a call is ``key(*args, **kwargs)`` (by default the canonical JSON of the
arguments, so only JSON-able arguments are cached; others simply run). Entries live
``ttl`` seconds (``None``: for ever) and at most ``max_entries`` are kept (the least
recently used go first). Only successful outputs are cached. The entries live in a
:class:`CacheBackend`: in memory by default; the run journal offers one that keeps them in
its file so they survive runs.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from runtree.errors import ConfigurationError
from runtree.policy.retry import check_number

__all__ = [
    "CacheBackend",
    "CacheStatistics",
    "MemoryCacheBackend",
    "ResultCache",
    "json_key",
]

_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False).encode


def json_key(*args: Any, **kwargs: Any) -> str | None:
    """The canonical JSON of the arguments, or ``None`` when they are not JSON (the call
    is then not cached)."""
    try:
        return _encode([args, kwargs])
    except (TypeError, ValueError, RecursionError):
        return None


@runtime_checkable
class CacheBackend(Protocol):
    """Where cached outputs live: ``get`` answers ``(found, value)``."""

    def get(self, namespace: str, key: str, *, now: float) -> tuple[bool, Any]: ...

    def put(
        self, namespace: str, key: str, value: Any, *, now: float, ttl: float | None
    ) -> None: ...


class MemoryCacheBackend:
    """Entries in this process, at most ``max_entries`` (least recently used go first)."""

    def __init__(self, max_entries: int = 10_000) -> None:
        check_number(max_entries, "cache max_entries", minimum=1, integer=True)
        self.max_entries = max_entries
        self._entries: collections.OrderedDict[tuple[str, str], tuple[Any, float | None]] = (
            collections.OrderedDict()
        )
        self.evicted = 0

    def get(self, namespace: str, key: str, *, now: float) -> tuple[bool, Any]:
        entry = self._entries.get((namespace, key))
        if entry is None:
            return False, None
        value, expires = entry
        if expires is not None and expires <= now:
            del self._entries[(namespace, key)]
            return False, None
        self._entries.move_to_end((namespace, key))
        return True, value

    def put(self, namespace: str, key: str, value: Any, *, now: float, ttl: float | None) -> None:
        self._entries[(namespace, key)] = (value, None if ttl is None else now + ttl)
        self._entries.move_to_end((namespace, key))
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
            self.evicted += 1

    def __len__(self) -> int:
        return len(self._entries)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CacheStatistics:
    """``hits``/``misses`` of lookups; ``uncacheable``: calls whose key was ``None``;
    ``stored``: outputs put in the cache."""

    hits: int
    misses: int
    uncacheable: int
    stored: int


class ResultCache:
    """Outputs by key, with a time to live. ``clock`` is injectable (``time.time`` by
    default: wall time, so entries kept in a journal expire across runs too)."""

    def __init__(
        self,
        *,
        key: Callable[..., str | None] = json_key,
        ttl: float | None = None,
        backend: CacheBackend | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not callable(key):
            raise ConfigurationError(f"cache key must be a function, got {key!r}")
        if ttl is not None:
            check_number(ttl, "cache ttl (seconds)", minimum=0, positive=True)
        if backend is not None and not isinstance(backend, CacheBackend):
            raise ConfigurationError(f"cache backend must have get() and put(), got {backend!r}")
        self.key = key
        self.ttl = None if ttl is None else float(ttl)
        self.backend: CacheBackend = backend if backend is not None else MemoryCacheBackend()
        self._clock = clock
        self._hits = self._misses = self._uncacheable = self._stored = 0

    def key_for(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        """The cache key of a call, or ``None`` when it is not cacheable."""
        try:
            key = self.key(*args, **kwargs)
        except Exception:
            key = None
        if key is not None and not isinstance(key, str):
            raise ConfigurationError(f"cache key function must return str or None, got {key!r}")
        if key is None:
            self._uncacheable += 1
        return key

    def lookup(self, namespace: str, key: str) -> tuple[bool, Any]:
        """``(True, output)`` for a live entry, else ``(False, None)``."""
        found, value = self.backend.get(namespace, key, now=self._clock())
        if found:
            self._hits += 1
        else:
            self._misses += 1
        return found, value

    def store(self, namespace: str, key: str, value: Any) -> None:
        """Keep ``value`` for ``ttl`` seconds."""
        self.backend.put(namespace, key, value, now=self._clock(), ttl=self.ttl)
        self._stored += 1

    def statistics(self) -> CacheStatistics:
        return CacheStatistics(
            hits=self._hits,
            misses=self._misses,
            uncacheable=self._uncacheable,
            stored=self._stored,
        )

    def __repr__(self) -> str:
        return f"<ResultCache ttl={self.ttl} {type(self.backend).__name__}>"
