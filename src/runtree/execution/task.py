"""``Task``: one node invocation, ready for an execution strategy."""

from __future__ import annotations

from typing import Generic, TypeVar

from runtree.context.central import mode_override, parent_id
from runtree.nodes.node import Node

__all__ = ["Task"]

T = TypeVar("T")


class Task(Generic[T]):
    """Pairs a ``request_id`` with the ``node`` instance that serves it.

    ``invoke()`` makes ``request_id`` the parent of any call the node makes, then runs
    ``node.tracked_invoke()``.
    """

    __slots__ = ("node", "request_id")

    def __init__(self, *, request_id: str, node: Node[T]) -> None:
        self.request_id = request_id
        self.node = node
        node.__dict__["_uuid"] = request_id  # Node.uuid, without the property's cost

    async def invoke(self) -> T:
        token = parent_id.set(self.request_id)
        override = mode_override.set(None) if mode_override.get() is not None else None
        try:
            return await self.node.tracked_invoke()
        finally:
            if override is not None:
                mode_override.reset(override)
            parent_id.reset(token)

    def __repr__(self) -> str:
        return f"Task(request_id={self.request_id!r}, node={self.node.name()!r})"
