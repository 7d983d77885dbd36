"""Request keys: what makes a request of a resumed run "the same" as one of the old run.

A key is a digest of

* the parent's key (the empty string for a root call),
* the node's name,
* the digest of its arguments (canonical JSON of ``args`` and ``kwargs``), and
* its ordinal among the parent's earlier calls with the same node name and arguments.

So the *n*-th call of ``Step(3)`` made by the same parent has the same key in every run
that makes the calls in the same order, whatever other calls happen around it; concurrent
siblings with different arguments are told apart by their arguments, not by which started
first. Keys are assigned in creation order, which is the order ``RTState.call_nodes``
records requests (always on the session's loop).
"""

from __future__ import annotations

__all__ = ["KeyTracker"]

from runtree.store.value import digest


class KeyTracker:
    """Assigns keys to the requests of one run, in creation order. O(1) per request."""

    __slots__ = ("_keys", "_ordinals")

    def __init__(self) -> None:
        self._keys: dict[str, str] = {}
        self._ordinals: dict[str, int] = {}

    def assign(self, request_id: str, parent_id: str | None, node_name: str, inputs: str) -> str:
        """The key of a new request; ``inputs`` is the digest of its arguments."""
        parent_key = "" if parent_id is None else self._keys.get(parent_id, "")
        base = f"{parent_key}\x1f{node_name}\x1f{inputs}"
        ordinal = self._ordinals.get(base, 0)
        self._ordinals[base] = ordinal + 1
        key = digest(f"{base}\x1f{ordinal}")
        self._keys[request_id] = key
        return key

    def key_of(self, request_id: str) -> str | None:
        return self._keys.get(request_id)
