"""Making each graph step a request of the run tree (internal).

``track(name, work, label=...)`` runs ``work()`` as ``rt.call`` of a tiny runtree node whose
``name()`` is ``name``: the step shows in ``session.info`` under that name, with ``label``
as its argument and the step's outcome as its output. Steps always run on the ``"async"``
strategy (they share the caller's shared store); what they call inside may use any mode.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

from runtree.context.central import execution_mode
from runtree.interaction import call
from runtree.nodes.node import Node as RuntreeNode

__all__ = ["StepWork", "track", "tracked_class"]

T = TypeVar("T")


class StepWork:
    """The argument of a tracked step: what to run, and a readable label for the run tree."""

    __slots__ = ("label", "work")

    def __init__(self, work: Callable[[], Awaitable[Any]], label: str) -> None:
        self.work = work
        self.label = label

    def __repr__(self) -> str:
        return self.label


class _TrackedStep(RuntreeNode[Any]):
    """A runtree node that awaits one piece of graph work."""

    execution_mode: ClassVar[str | None] = "async"

    def __init__(self, step: StepWork) -> None:
        super().__init__()
        self.step = step

    async def invoke(self) -> Any:
        return await self.step.work()


@functools.lru_cache(maxsize=4096)
def tracked_class(name: str) -> type[_TrackedStep]:
    """A subclass of the tracked-step node whose ``name()`` is ``name`` (cached)."""
    class_name = name if name.isidentifier() else "GraphStep"
    return type(
        class_name,
        (_TrackedStep,),
        {"name": classmethod(lambda cls: name), "__module__": __name__, "__qualname__": name},
    )


async def track(name: str, work: Callable[[], Awaitable[T]], *, label: str) -> T:
    """Run ``work()`` as a request named ``name`` of the current run (or of a new session)."""
    with execution_mode("async"):
        result: T = await call(tracked_class(name), StepWork(work, label))
    return result
