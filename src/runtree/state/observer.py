"""``RequestObserver``: what sees every request of a run begin and end.

An observer is given to :class:`~runtree.state.state.RTState` when it is built (as trio's
instruments are), never attached afterwards. The run journal (:mod:`runtree.store`) is one;
an observer must be cheap, because both methods run on the hot path of every call, on the
session's event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from runtree.nodes.node import Node
    from runtree.state.info import RequestRecord

__all__ = ["RequestObserver"]


@runtime_checkable
class RequestObserver(Protocol):
    """Sees each request when it is created and when it has ended."""

    def request_created(
        self, record: RequestRecord, node_class: type[Node[Any]] | None
    ) -> tuple[Any] | None:
        """``record`` was just created (its inputs are final; its node has not run).

        Return ``(output,)`` to answer the request without running it (resume answers a
        request that an earlier run completed), else ``None``. ``node_class`` is ``None``
        for a request that was made and ended elsewhere (inside a process worker) and is
        reported here afterwards; its answer is ignored.
        """

    def request_ended(self, record: RequestRecord) -> Awaitable[None] | None:
        """``record`` ended (``status``, ``output`` or ``error``, ``end_time`` and
        ``attributes`` are set). Return an awaitable to make the caller wait for it before
        getting the outcome (``durability="sync"`` waits for the write), else ``None``."""
