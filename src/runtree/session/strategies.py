"""The thread and process strategies shared by every session (pools start on first use and
are shut down when the interpreter exits)."""

from __future__ import annotations

import atexit

from runtree.execution.execution_strategy import (
    ExecutionStrategy,
    ProcessExecutionStrategy,
    ThreadExecutionStrategy,
)

__all__ = ["default_strategies"]

_SHARED: dict[str, ExecutionStrategy] = {
    "thread": ThreadExecutionStrategy(),
    "process": ProcessExecutionStrategy(),
}


def default_strategies() -> dict[str, ExecutionStrategy]:
    """``{"thread": ..., "process": ...}`` shared by all sessions (``"async"`` is built in)."""
    return dict(_SHARED)


@atexit.register
def _shutdown_shared() -> None:
    for strategy in _SHARED.values():
        strategy.shutdown()
