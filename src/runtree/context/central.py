"""The context a node runs in, kept in :mod:`contextvars`.

``current_session`` holds the open session (typed loosely: the session layer sits above this
one), ``parent_id`` the request id of the node that is running (set by
``Node.tracked_invoke``), and ``mode_override`` the execution mode chosen with
:func:`execution_mode` for the calls made directly in its scope.
Each task, thread hop (a synchronous node's worker thread) and strategy carries a copy of this
context.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from runtree.errors import ConfigurationError
from runtree.nodes.node import current_node_id
from runtree.pubsub.publisher import RTPublisher, current_publisher

__all__ = [
    "current_session",
    "execution_mode",
    "get_parent_id",
    "get_publisher",
    "get_session",
    "is_context_present",
    "mode_override",
    "parent_id",
    "update_parent_id",
]

current_session: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "runtree_session", default=None
)
parent_id = current_node_id
#: ``(mode, parent id)`` set by :func:`execution_mode`: applies to calls made with that parent
mode_override: contextvars.ContextVar[tuple[str, str | None] | None] = contextvars.ContextVar(
    "runtree_mode_override", default=None
)


def is_context_present() -> bool:
    """Whether this code runs inside an open session."""
    return current_session.get() is not None


def get_session() -> Any:
    """The open session, or ``None``."""
    return current_session.get()


def get_publisher() -> RTPublisher | None:
    """The publisher of the open session, or ``None``."""
    return current_publisher.get()


def get_parent_id() -> str | None:
    """Request id of the node running here (the parent of any call made now), or ``None``."""
    return parent_id.get()


def update_parent_id(new_parent_id: str | None) -> contextvars.Token[str | None]:
    """Make ``new_parent_id`` the parent of calls made from here; returns the reset token."""
    return parent_id.set(new_parent_id)


@contextlib.contextmanager
def execution_mode(mode: str) -> Iterator[None]:
    """Run the calls made directly in this block in ``mode`` (``"async"``, ``"thread"``,
    ``"process"`` or another mode the session knows). Calls nested inside those nodes are
    not affected: they use their own node's or the session's mode."""
    if not isinstance(mode, str) or not mode:
        raise ConfigurationError(f"execution mode must be a non-empty string, got {mode!r}")
    token = mode_override.set((mode, parent_id.get()))
    try:
        yield
    finally:
        mode_override.reset(token)
