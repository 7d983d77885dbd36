"""``Task``: one node invocation, ready for an execution strategy."""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from typing import Any, Generic, TypeVar

from runtree.nodes.node import Node

__all__ = ["Task"]

T = TypeVar("T")


class Task(Generic[T]):
    """Pairs a ``request_id`` with the ``node`` instance that serves it.

    ``invoke()`` runs ``node.tracked_invoke()`` with ``node.uuid == request_id``, which makes
    ``request_id`` the parent of every call the node makes.
    """

    __slots__ = ("node", "remote_requests", "request_id")

    def __init__(self, *, request_id: str, node: Node[T]) -> None:
        self.request_id = request_id
        self.node = node
        #: requests the node made where a strategy ran it elsewhere (process workers), as
        #: ``RequestRecord.to_dict`` dicts; the caller adds them to its tree
        self.remote_requests: Sequence[dict[str, Any]] = ()
        node.__dict__["_uuid"] = request_id  # Node.uuid, without the property's cost

    def invoke(self) -> Coroutine[Any, Any, T]:
        """The coroutine that runs the node (awaiting it runs the task)."""
        return self.node.tracked_invoke()

    def __repr__(self) -> str:
        return f"Task(request_id={self.request_id!r}, node={self.node.name()!r})"
