"""``Task``: one node invocation, ready for an execution strategy."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from runtree.nodes.node import Node

if TYPE_CHECKING:
    from runtree.execution.remote import CallHost

__all__ = ["Task"]

T = TypeVar("T")


class Task(Generic[T]):
    """Pairs a ``request_id`` with the ``node`` instance that serves it.

    ``invoke()`` runs ``node.tracked_invoke()`` with ``node.uuid == request_id``, which makes
    ``request_id`` the parent of every call the node makes. ``host`` is the run the task
    belongs to, for strategies that run the node in another process: the calls the node
    makes there are reported to it (see :mod:`runtree.execution.remote`).
    """

    __slots__ = ("host", "node", "request_id")

    def __init__(self, *, request_id: str, node: Node[T], host: CallHost | None = None) -> None:
        self.request_id = request_id
        self.node = node
        self.host = host
        node.__dict__["_uuid"] = request_id  # Node.uuid, without the property's cost

    def invoke(self) -> Coroutine[Any, Any, T]:
        """The coroutine that runs the node (awaiting it runs the task)."""
        return self.node.tracked_invoke()

    def __repr__(self) -> str:
        return f"Task(request_id={self.request_id!r}, node={self.node.name()!r})"
