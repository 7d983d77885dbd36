"""``RunContext``: the key/value store every node of one run can read and write.

A session owns one (``Session(context={...})`` gives its first values); ``rt.context.get``,
``put``, ``update`` and ``delete`` reach the store of the session the calling code runs in.
It lives as long as the run: a new session starts from its own values only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, KeysView, Mapping
from typing import Any

from runtree.context.central import current_session
from runtree.errors import ConfigurationError, ContextError

__all__ = ["RunContext", "current_context", "delete", "get", "put", "update"]

_MISSING: Any = object()


class RunContext:
    """A run's shared values. Safe to use from the run's threads (one lock per store)."""

    __slots__ = ("_lock", "_values")

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        if values is not None and not isinstance(values, Mapping):
            raise ConfigurationError(
                f"context must be a mapping of str keys to values, got {type(values).__name__}"
            )
        self._values: dict[str, Any] = {}
        self._lock = threading.Lock()
        if values:
            self.update(values)

    def get(self, key: str, default: Any = _MISSING) -> Any:
        """The value under ``key``; ``default`` if given and the key is missing, else
        ``KeyError``."""
        try:
            return self._values[key]
        except KeyError:
            if default is not _MISSING:
                return default
            raise KeyError(
                f"{key!r} is not in the run context (it has {sorted(self._values)[:10]}); "
                "put it there first, or pass a default"
            ) from None

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` (replacing what was there)."""
        _check_key(key)
        with self._lock:
            self._values[key] = value

    def update(self, values: Mapping[str, Any]) -> None:
        """Store every item of ``values``; other keys are kept."""
        if not isinstance(values, Mapping):
            raise ConfigurationError(f"context.update needs a mapping, got {type(values).__name__}")
        for key in values:
            _check_key(key)
        with self._lock:
            self._values.update(values)

    def delete(self, key: str) -> None:
        """Remove ``key`` (``KeyError`` if it is not there)."""
        with self._lock:
            try:
                del self._values[key]
            except KeyError:
                raise KeyError(f"{key!r} is not in the run context") from None

    def keys(self) -> KeysView[str]:
        return self._values.keys()

    def snapshot(self) -> dict[str, Any]:
        """A shallow copy of every value (what a worker elsewhere starts from)."""
        with self._lock:
            return dict(self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self.snapshot())

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, key: str) -> Any:
        return self.get(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.put(key, value)

    def __repr__(self) -> str:
        return f"<RunContext {sorted(self._values)}>"


def _check_key(key: object) -> None:
    if not isinstance(key, str):
        raise ConfigurationError(f"run context keys must be str, got {key!r}")


def current_context() -> RunContext:
    """The store of the session this code runs in (``ContextError`` outside any session)."""
    session = current_session.get()
    store = getattr(session, "context", None)
    if not isinstance(store, RunContext):
        raise ContextError(
            "rt.context is only available inside a session: open one with "
            "`with rt.Session(context={...}):` (or `async with`)"
        )
    return store


def get(key: str, default: Any = _MISSING) -> Any:
    """The value under ``key`` in the current run's context (``default`` if given and
    missing, else ``KeyError``)."""
    return current_context().get(key, default)


def put(key: str, value: Any) -> None:
    """Store ``value`` under ``key`` in the current run's context."""
    current_context().put(key, value)


def update(values: Mapping[str, Any]) -> None:
    """Store every item of ``values`` in the current run's context."""
    current_context().update(values)


def delete(key: str) -> None:
    """Remove ``key`` from the current run's context (``KeyError`` if missing)."""
    current_context().delete(key)
