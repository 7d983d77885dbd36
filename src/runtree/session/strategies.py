"""The thread and process strategies shared by every session (pools start on first use and
are shut down when the interpreter exits), and the worker-side session that lets a node run
in a process report the calls it made there."""

from __future__ import annotations

import atexit
import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

from runtree.execution.execution_strategy import (
    ExecutionStrategy,
    ProcessExecutionStrategy,
    ThreadExecutionStrategy,
)

__all__ = ["default_strategies", "worker_session"]


@contextlib.asynccontextmanager
async def worker_session(request_id: str) -> AsyncIterator[Callable[[], list[dict[str, Any]]]]:
    """In a worker process: a session (not journaled; the caller's run journals what comes
    back) for the node serving ``request_id``; yields the function that lists the requests
    made in it, which the caller adds under ``request_id``."""
    from runtree.session.session import Session

    async with Session(name=f"worker for {request_id}", store=None) as session:
        # everything is reported when the node returns, so nothing may leave memory before
        session.info.max_finished = sys.maxsize
        yield lambda: [record.to_dict() for record in session.info.requests.values()]


_SHARED: dict[str, ExecutionStrategy] = {
    "thread": ThreadExecutionStrategy(),
    "process": ProcessExecutionStrategy(worker_scope=worker_session),
}


def default_strategies() -> dict[str, ExecutionStrategy]:
    """``{"thread": ..., "process": ...}`` shared by all sessions (``"async"`` is built in)."""
    return dict(_SHARED)


@atexit.register
def _shutdown_shared() -> None:
    for strategy in _SHARED.values():
        strategy.shutdown()
