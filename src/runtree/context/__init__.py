"""The context code runs in: the current session, the parent request, the execution-mode
override, and the run's shared key/value store (``rt.context.get/put/update/delete``)."""

from __future__ import annotations

from runtree.context.central import (
    execution_mode,
    get_parent_id,
    get_publisher,
    get_session,
    is_context_present,
    update_parent_id,
)
from runtree.context.store import RunContext, delete, get, put, update

__all__ = [
    "RunContext",
    "delete",
    "execution_mode",
    "get",
    "get_parent_id",
    "get_publisher",
    "get_session",
    "is_context_present",
    "put",
    "update",
    "update_parent_id",
]
