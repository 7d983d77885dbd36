"""``call`` and ``call_sync``: run one node as a request of the current session.

Outside a session, a call opens a temporary session for itself
(``Session(name=<node>, store=None)``): nobody keeps its tree, so it is not journaled.
Except in one case: while a script's ``with rt.Session()`` is open in the main thread,
``call_sync`` from a thread that is not part of it (a thread the script started, which does
not inherit the session) raises :class:`~runtree.errors.ContextError` instead of running
silently outside the journal (see :func:`runtree.runtime.sync.open_session`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, overload

from runtree.context.central import current_session, parent_id
from runtree.errors import ContextError
from runtree.nodes.function import FunctionNode
from runtree.nodes.node import Node
from runtree.runtime.session import Session
from runtree.runtime.sync import open_session

__all__ = ["call", "call_sync"]

P = ParamSpec("P")
T = TypeVar("T")


# Overloads, most specific first, so type checkers check the arguments against the node's
# (ParamSpec) and know the output type: a function node, a node class, an async function,
# any other function.
@overload
async def call(node: type[FunctionNode[P, T]], /, *args: P.args, **kwargs: P.kwargs) -> T: ...
@overload
async def call(node: Callable[P, Node[T]], /, *args: P.args, **kwargs: P.kwargs) -> T: ...
@overload
async def call(
    node: Callable[P, Coroutine[Any, Any, T]], /, *args: P.args, **kwargs: P.kwargs
) -> T: ...
@overload
async def call(node: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T: ...


async def call(node: Any, /, *args: Any, **kwargs: Any) -> Any:
    """Run ``node(*args, **kwargs)`` (a node class or a function) and return its output.

    The node's own exceptions propagate unchanged; bad arguments raise
    :class:`~runtree.errors.NodeInvocationError` before anything runs.
    """
    session: Session | None = current_session.get()
    if session is None:
        async with _temporary_session(node) as temporary:
            return await temporary.state.call_nodes(None, None, node, args, kwargs)
    return await session.state.call_nodes(parent_id.get(), None, node, args, kwargs)


@overload
def call_sync(node: type[FunctionNode[P, T]], /, *args: P.args, **kwargs: P.kwargs) -> T: ...
@overload
def call_sync(node: Callable[P, Node[T]], /, *args: P.args, **kwargs: P.kwargs) -> T: ...
@overload
def call_sync(
    node: Callable[P, Coroutine[Any, Any, T]], /, *args: P.args, **kwargs: P.kwargs
) -> T: ...
@overload
def call_sync(node: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T: ...


def call_sync(node: Any, /, *args: Any, **kwargs: Any) -> Any:
    """Blocking form of :func:`call` for code without a running event loop.

    Works in any thread that carries the session's context: the session's own thread
    inside ``with rt.Session()``, a synchronous node (a worker thread), a thread inside
    ``with session.attach()``. Outside any session it opens a temporary one.
    """
    if asyncio._get_running_loop() is not None:
        raise ContextError(
            "call_sync() cannot run inside a running event loop; use `await rt.call(...)` there"
        )
    session: Session | None = current_session.get()
    if session is None:
        _refuse_if_session_open(node)
        with _temporary_session(node) as temporary:
            return temporary.run_sync(temporary.state.call_nodes(None, None, node, args, kwargs))
    return session.run_sync(session.state.call_nodes(parent_id.get(), None, node, args, kwargs))


def _temporary_session(node: Any) -> Session:
    """The session of a call made outside any session (not journaled)."""
    session = Session(name=_label(node), store=None)
    session.temporary = True
    return session


def _refuse_if_session_open(node: Any) -> None:
    """A thread without a session context must not run quietly outside the script's
    session."""
    other = open_session()
    if other is not None:
        raise ContextError(
            f"rt.call_sync({_label(node)}) was made in a thread that is not part of the open "
            f"session {other.name or other.run_id!r} (threads do not inherit a session): "
            "enter `with session.attach():` in that thread, or start it in "
            "`contextvars.copy_context()`; to run it apart on purpose, open a session there"
        )


def _label(node: Any) -> str:
    name = getattr(node, "name", None)
    if isinstance(node, type) and callable(name):
        try:
            return str(name())
        except Exception:
            return node.__qualname__
    return getattr(node, "__name__", type(node).__name__)
