"""What a step changed in the shared store, and putting it back on resume (internal).

A journaled graph step records, in its request's output, the changes it made to the shared
store (``record["shared"]``): keys set (with a copy of their value at the end of the step),
keys deleted, and for a ``dict`` value changed in place, the same three recursively
(``shared["results"][key] = ...`` is recorded as a change of ``key`` inside
``"results"``, so steps of concurrent runs writing different keys of one dict restore
exactly, in any order). When a resumed run answers the step from the journal, its
``prep``/``exec``/``post`` do not run again: :func:`apply_changes` re-applies the changes.

The format is JSON (lists of ``[key, value]`` pairs, so keys need not be strings), so a
step whose values are JSON data is replayed exactly::

    {"set": [[key, value], ...], "delete": [key, ...], "patch": [[key, {...}], ...]}

:class:`ChangeTracker` tells what changed by fingerprinting each top-level value (its
pickle; its identity when it cannot be pickled) after every step, so detecting changes
costs one pickling pass over the store per step and catches in-place mutation.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Collection, Mapping, MutableMapping
from typing import Any

from runtree.graph.errors import GraphResumeError

__all__ = ["ChangeTracker", "Changes", "apply_changes"]

Changes = dict[str, list[Any]]

_SCALARS = (str, int, float, bool, bytes, type(None))
_MAX_DEPTH = 32


def _fingerprint(value: Any) -> Any:
    """What tells whether ``value`` changed: a scalar itself, else its pickle, else itself
    (compared by identity)."""
    if type(value) in _SCALARS:
        return value
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return _Opaque(value)


class _Opaque:
    """A value that cannot be pickled: unchanged while it is the same object."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Opaque) and other.value is self.value

    __hash__ = None  # type: ignore[assignment]


def _same(old: Any, new: Any) -> bool:
    if old is new:
        return True
    if type(old) is not type(new):
        return False
    try:
        return bool(old == new)
    except Exception:  # an == that does not answer a bool (arrays, ...): assume changed
        return False


def _copy(value: Any) -> Any:
    """A copy of ``value`` as it is now (later steps may mutate the live object)."""
    if type(value) in _SCALARS:
        return value
    try:
        return pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:
        return value


def _restore(fingerprint: Any) -> Any:
    """The value a fingerprint was taken of (a copy), or ``None`` for an opaque one."""
    if isinstance(fingerprint, bytes):
        return pickle.loads(fingerprint)
    if isinstance(fingerprint, _Opaque):
        return None
    return fingerprint


def _collect(
    new: Mapping[Any, Any],
    old_keys: Collection[Any],
    unchanged: Callable[[Any, Any], bool],
    old_value: Callable[[Any], Any],
    depth: int,
) -> Changes:
    """The changes from the old mapping (its keys, and how to read and compare its values)
    to ``new``; a ``dict`` changed into a ``dict`` gives a nested ``patch``."""
    changes: Changes = {}
    for key, value in new.items():
        if key not in old_keys:
            changes.setdefault("set", []).append([key, _copy(value)])
            continue
        if unchanged(key, value):
            continue
        before = old_value(key)
        if type(before) is dict and type(value) is dict and depth < _MAX_DEPTH:
            inner = _diff(before, value, depth + 1)
            if inner:
                changes.setdefault("patch", []).append([key, inner])
            continue
        changes.setdefault("set", []).append([key, _copy(value)])
    deleted = [key for key in old_keys if key not in new]
    if deleted:
        changes["delete"] = deleted
    return changes


def _diff(old: Mapping[Any, Any], new: Mapping[Any, Any], depth: int) -> Changes:
    return _collect(
        new, old.keys(), lambda key, value: _same(old[key], value), old.__getitem__, depth
    )


class ChangeTracker:
    """Fingerprints of a shared store's values, as of the last :meth:`changes` (internal).

    A sequential graph shares one tracker with its steps (and nested graphs); a parallel
    branch or a concurrent batch run gets a :meth:`copy`.
    """

    __slots__ = ("_prints",)

    def __init__(self, prints: dict[Any, Any] | None = None) -> None:
        self._prints: dict[Any, Any] = {} if prints is None else prints

    @classmethod
    def of(cls, store: Mapping[Any, Any]) -> ChangeTracker:
        return cls({key: _fingerprint(value) for key, value in store.items()})

    def copy(self) -> ChangeTracker:
        return ChangeTracker(dict(self._prints))

    def refresh(self, store: Mapping[Any, Any]) -> None:
        """Take the store as it is now as the reference."""
        self._prints = {key: _fingerprint(value) for key, value in store.items()}

    def mark(self) -> dict[Any, Any]:
        """A checkpoint to give to :meth:`changes` later."""
        return dict(self._prints)

    def changes(self, store: Mapping[Any, Any], since: dict[Any, Any]) -> Changes:
        """Fingerprint ``store`` now and return what changed since the checkpoint ``since``."""
        prints = {key: _fingerprint(value) for key, value in store.items()}
        self._prints = prints
        return _collect(
            store,
            since.keys(),
            lambda key, value: bool(since[key] == prints[key]),
            lambda key: _restore(since[key]),
            1,
        )


def apply_changes(store: MutableMapping[Any, Any], changes: Mapping[str, Any], where: str) -> None:
    """Re-apply recorded ``changes`` to ``store`` (a resumed run's replayed step)."""
    for key in changes.get("delete", ()):
        store.pop(key, None)
    for key, value in changes.get("set", ()):
        store[key] = value
    for key, inner in changes.get("patch", ()):
        target = store.get(key)
        if not isinstance(target, MutableMapping):
            raise GraphResumeError(
                f"{where}: cannot restore the shared store on resume: shared[{key!r}] should "
                f"be the dict the step changed, found {type(target).__name__}; the run did "
                "not start from the same shared store as the run it resumes"
            )
        apply_changes(target, inner, where)
