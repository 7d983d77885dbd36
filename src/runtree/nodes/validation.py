"""Call-time validation: turn ``call(target, *args, **kwargs)`` into a node instance, or
fail with a :class:`~runtree.errors.NodeInvocationError` naming the node and the argument
before anything runs."""

from __future__ import annotations

from typing import Any

from runtree.errors import NodeDefinitionError, NodeInvocationError
from runtree.nodes.function import function_node
from runtree.nodes.node import Node

__all__ = ["create_node", "resolve_node"]


def resolve_node(target: Any) -> type[Node[Any]]:
    """The node class behind ``target``: a node class itself, or a function (wrapped once)."""
    if isinstance(target, type):
        if not issubclass(target, Node):
            raise NodeInvocationError(
                f"{target.__qualname__} is not a node: pass a runtree Node subclass or a function"
            )
        if target.invoke is Node.invoke:
            raise NodeDefinitionError(
                f"{target.__qualname__} does not implement invoke(); define "
                "`async def invoke(self)` (or a sync `def invoke(self)`)"
            )
        return target
    if isinstance(target, Node):
        raise NodeInvocationError(
            f"got an instance of {type(target).__qualname__}; pass the node class and its "
            "arguments instead: call(NodeClass, *args, **kwargs)"
        )
    if callable(target):
        return function_node(target)
    raise NodeInvocationError(f"cannot call {target!r}: pass a node class or a function")


def create_node(
    node_class: type[Node[Any]], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Node[Any]:
    """Instantiate ``node_class``; argument mismatches become ``NodeInvocationError``.

    A ``TypeError`` raised while *binding* the arguments (its traceback stops at this frame)
    is a bad call; one raised inside ``__init__``'s body is the node's own and propagates.
    """
    try:
        return node_class(*args, **kwargs)
    except NodeInvocationError:
        raise
    except TypeError as exc:
        tb = exc.__traceback__
        if tb is not None and tb.tb_next is None:
            raise NodeInvocationError(f"node {node_class.name()!r}: {exc}") from None
        raise
