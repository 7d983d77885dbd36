"""``call`` and ``call_sync``: run one node as a request of the current session.

Outside a session, a call opens a temporary session for itself
(``Session(name=<node>, store=None)``): nobody keeps its tree, so it is not journaled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar, overload

from runtree.context.central import current_session, parent_id
from runtree.errors import ContextError
from runtree.nodes.node import Node
from runtree.session.session import Session

__all__ = ["call", "call_sync"]

T = TypeVar("T")


@overload
async def call(node: type[Node[T]], /, *args: Any, **kwargs: Any) -> T: ...
@overload
async def call(node: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any: ...


async def call(node: Any, /, *args: Any, **kwargs: Any) -> Any:
    """Run ``node(*args, **kwargs)`` (a node class or a function) and return its output.

    The node's own exceptions propagate unchanged; bad arguments raise
    :class:`~runtree.errors.NodeInvocationError` before anything runs.
    """
    session: Session | None = current_session.get()
    if session is None:
        async with Session(name=_label(node), store=None) as temporary:
            return await temporary.state.call_nodes(None, None, node, args, kwargs)
    return await session.state.call_nodes(parent_id.get(), None, node, args, kwargs)


@overload
def call_sync(node: type[Node[T]], /, *args: Any, **kwargs: Any) -> T: ...
@overload
def call_sync(node: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any: ...


def call_sync(node: Any, /, *args: Any, **kwargs: Any) -> Any:
    """Blocking form of :func:`call` for code without a running event loop.

    Inside ``with rt.Session()`` it runs on the session's loop; inside a synchronous node
    (a worker thread) it sends the call to the session's loop and waits; elsewhere it opens
    a temporary session.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise ContextError(
            "call_sync() cannot run inside a running event loop; use `await rt.call(...)` there"
        )
    session: Session | None = current_session.get()
    if session is None:
        with Session(name=_label(node), store=None) as temporary:
            return temporary.run_sync(call(node, *args, **kwargs))
    return session.run_sync(call(node, *args, **kwargs))


def _label(node: Any) -> str:
    name = getattr(node, "name", None)
    if isinstance(node, type) and callable(name):
        try:
            return str(name())
        except Exception:
            return node.__qualname__
    return getattr(node, "__name__", type(node).__name__)
