"""The context a node runs in, kept in :mod:`contextvars`.

``current_session`` holds the open session (typed loosely: the session layer sits above this
one), ``parent_id`` the request id of the node that is running (set by
``Node.tracked_invoke``), and ``mode_override`` the execution mode chosen with
:func:`execution_mode` for the calls made directly in its scope.
Each task, thread hop (a synchronous node's worker thread) and strategy carries a copy of this
context. A strategy that runs nodes in another process carries the parent id there, and the
values of the variables registered with :func:`carry`.
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
    "carried_values",
    "carry",
    "choose_mode",
    "current_session",
    "execution_mode",
    "get_parent_id",
    "get_publisher",
    "get_run_id",
    "get_session",
    "get_session_id",
    "is_context_present",
    "mode_override",
    "parent_id",
    "restore_carried",
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


def get_session_id() -> str | None:
    """Id of the open session (its ``run_id``: the id the journal and the CLI show), or
    ``None`` outside a session. (railtracks calls this the session id.)"""
    session = current_session.get()
    return None if session is None else str(session.run_id)


def get_run_id() -> str | None:
    """Request id of the root call of the tree this code runs in (the call made outside any
    node that led here), or ``None`` outside a node. railtracks calls one root call and
    everything under it a *run*; runtree's ``Session.run_id`` names the whole session
    instead (see :func:`get_session_id`). O(depth of the call)."""
    session = current_session.get()
    request_id = parent_id.get()
    if session is None or request_id is None:
        return None
    requests = session.info.requests
    record = requests.get(request_id)
    while record is not None and record.parent_id in requests:
        record = requests[record.parent_id]
    return request_id if record is None else str(record.request_id)


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


def choose_mode(
    explicit: str | None, node_mode: str | None, parent: str | None, default: str
) -> str:
    """The execution mode of a call, first that applies: ``explicit`` (the caller's
    ``mode``), :func:`execution_mode` around the call (for calls made directly in its
    scope, i.e. with the same ``parent``), the node class's own ``execution_mode``, the
    run's ``default``."""
    if explicit:
        return explicit
    override = mode_override.get()
    if override is not None and override[1] == parent:
        return override[0]
    return node_mode or default


_carried: dict[str, contextvars.ContextVar[Any]] = {}


def carry(var: contextvars.ContextVar[Any]) -> contextvars.ContextVar[Any]:
    """Make ``var`` travel with every task a strategy runs in another process: the worker
    sets it to the caller's value before the node runs. Variables travel by name, so
    register them when a module is imported (the worker imports it too, by reference);
    their values must pickle. Returns ``var``."""
    if not isinstance(var, contextvars.ContextVar):
        raise ConfigurationError(f"carry() needs a contextvars.ContextVar, got {var!r}")
    known = _carried.get(var.name)
    if known is not None and known is not var:
        raise ConfigurationError(f"another context variable named {var.name!r} is carried")
    _carried[var.name] = var
    return var


_UNSET = object()


def carried_values() -> dict[str, Any]:
    """The current values of the carried variables that have one, by name."""
    values: dict[str, Any] = {}
    for name, var in _carried.items():
        value = var.get(_UNSET)
        if value is not _UNSET:
            values[name] = value
    return values


def restore_carried(values: dict[str, Any]) -> None:
    """Set the carried variables known here to ``values`` (from :func:`carried_values`
    in another process); names not registered here are ignored."""
    for name, value in values.items():
        var = _carried.get(name)
        if var is not None:
            var.set(value)
