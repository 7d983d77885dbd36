"""Context variables: the current session, the parent request and the execution-mode override."""

from __future__ import annotations

from runtree.context.central import (
    execution_mode,
    get_parent_id,
    get_publisher,
    get_session,
    is_context_present,
    update_parent_id,
)

__all__ = [
    "execution_mode",
    "get_parent_id",
    "get_publisher",
    "get_session",
    "is_context_present",
    "update_parent_id",
]
