"""Ray for runtree: ``execution_mode="ray"`` runs nodes as Ray tasks, on a local cluster or
on one you connect to (see ``docs/ray.md``). Needs the ``ray`` extra:
``pip install 'runtree[ray]'``.

* :class:`RayExecutionStrategy` runs each task as a Ray task; the calls its node makes
  there belong to the caller's run (journaled as they finish, answered on resume).
* :func:`shared_strategy` is the one behind ``execution_mode="ray"`` (and
  ``RT_EXECUTION_MODE=ray``): configured from the environment (``RT_RAY_ADDRESS``...),
  started on first use, shut down at interpreter exit.

Importing this package imports ``ray``; ``import runtree`` never does.
"""

from __future__ import annotations

import threading

INSTALL_HINT = "install it with: pip install 'runtree[ray]'"

try:
    import ray as _ray  # noqa: F401
except ImportError as _missing:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"runtree's Ray integration (execution mode 'ray') needs the `ray` package; {INSTALL_HINT}"
    ) from _missing

from runtree.integrations.ray.strategy import RayExecutionStrategy, RayStatistics  # noqa: E402

__all__ = ["INSTALL_HINT", "RayExecutionStrategy", "RayStatistics", "shared_strategy"]

_shared: RayExecutionStrategy | None = None
_lock = threading.Lock()


def shared_strategy() -> RayExecutionStrategy:
    """The process-wide strategy of ``execution_mode="ray"`` (created on first use)."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = RayExecutionStrategy()
        return _shared
