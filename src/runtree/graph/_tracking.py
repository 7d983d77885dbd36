"""Making each graph step a request of the run tree (internal).

``track(name, work, label=...)`` runs ``work()`` as ``rt.call`` of a tiny runtree node whose
``name()`` is ``name``: the step shows in ``session.info`` under that name, with ``label``
as its argument and the step's record as its output. Steps always run on the ``"async"``
strategy (they share the caller's shared store); what they call inside may use any mode.

``attributes`` (optional) are the step's request attributes (contract 1): the step's node
sets them as its ``details["attributes"]`` before the work starts, so the request carries
them whether the work succeeds or fails (a graph records its picture this way:
``runtree.graph.mermaid``).

``run_step(name, label, ctx, work)`` is ``track`` for a step that may change the shared
store: when the run is journaled, the step's record carries what it changed
(``record["shared"]``, see :mod:`runtree.graph._changes`), and a step a resumed run answers
from the journal gets those changes re-applied instead of running again.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, TypeVar

from runtree._async import maybe_await
from runtree.context.central import current_session, execution_mode
from runtree.graph._changes import ChangeTracker, apply_changes
from runtree.interaction import call, call_sync
from runtree.nodes.node import Node as RuntreeNode

__all__ = [
    "Record",
    "StepContext",
    "StepWork",
    "maybe_await",
    "run_inline",
    "run_step",
    "run_step_sync",
    "track",
    "tracked_class",
]

T = TypeVar("T")
#: What a step's request returns: plain data (see ``StepOutcome.to_record``).
Record = dict[str, Any]


class StepWork:
    """The argument of a tracked step: what to run, a readable label for the run tree, and
    the attributes its request carries (or ``None``)."""

    __slots__ = ("attributes", "label", "work")

    def __init__(
        self,
        work: Callable[[], Awaitable[Any]],
        label: str,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        self.work = work
        self.label = label
        self.attributes = attributes

    def __repr__(self) -> str:
        return self.label


class _TrackedStep(RuntreeNode[Any]):
    """A runtree node that awaits one piece of graph work."""

    execution_mode: ClassVar[str | None] = "async"

    def __init__(self, step: StepWork) -> None:
        super().__init__()
        self.step = step

    async def invoke(self) -> Any:
        attributes = self.step.attributes
        if attributes:  # a copy per request: the step's definition keeps the original
            self.details["attributes"] = dict(attributes)
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


async def track(
    name: str,
    work: Callable[[], Awaitable[T]],
    *,
    label: str,
    attributes: Mapping[str, Any] | None = None,
) -> T:
    """Run ``work()`` as a request named ``name`` of the current run (or of a new session),
    carrying ``attributes``."""
    with execution_mode("async"):
        result: T = await call(tracked_class(name), StepWork(work, label, attributes))
    return result


def _journaled() -> bool:
    session = current_session.get()
    return session is not None and getattr(session, "journal", None) is not None


class StepContext:
    """Where a step runs: the shared store, the params its graph gives it, and (in a
    journaled run) the tracker of the store's changes."""

    __slots__ = ("params", "store", "tracker")

    def __init__(
        self,
        store: Any,
        params: Mapping[str, Any],
        tracker: ChangeTracker | None,
    ) -> None:
        self.store = store
        self.params: dict[str, Any] = dict(params)
        self.tracker = tracker

    @classmethod
    def start(cls, store: Any, params: Mapping[str, Any]) -> StepContext:
        """The context of a top-level run (tracking changes when the session journals)."""
        return cls(store, params, ChangeTracker.of(store) if _journaled() else None)

    def with_params(self, params: Mapping[str, Any]) -> StepContext:
        """The same store and tracker, other params (the steps of one sequential run)."""
        return StepContext(self.store, params, self.tracker)

    def concurrent(self, params: Mapping[str, Any]) -> StepContext:
        """The same store, for a run that goes on beside others (its own tracker)."""
        return StepContext(self.store, params, self._tracker_copy())

    def branch(self, store: Any) -> StepContext:
        """Another store (a parallel branch's view), same params."""
        return StepContext(store, self.params, self._tracker_copy())

    def _tracker_copy(self) -> ChangeTracker | None:
        return None if self.tracker is None else self.tracker.copy()


class _StepRun:
    """One run of a step's work; knows whether it ran or was answered from the journal."""

    __slots__ = ("ctx", "name", "ran", "work")

    def __init__(self, name: str, ctx: StepContext, work: Callable[[], Awaitable[Record]]) -> None:
        self.name = name
        self.ctx = ctx
        self.work = work
        self.ran = False

    async def body(self) -> Record:
        self.ran = True
        tracker = self.ctx.tracker
        if tracker is None:
            return await self.work()
        since = tracker.mark()
        record = await self.work()
        changes = tracker.changes(self.ctx.store, since)
        if changes:
            record["shared"] = changes
        return record

    def finish(self, record: Record) -> Record:
        if not self.ran:  # answered from the journal of the run this one resumes
            changes = record.get("shared")
            if changes:
                apply_changes(self.ctx.store, changes, f"step {self.name!r}")
            if self.ctx.tracker is not None:
                self.ctx.tracker.refresh(self.ctx.store)
        return record


async def run_step(
    name: str,
    label: str,
    ctx: StepContext,
    work: Callable[[], Awaitable[Record]],
    *,
    attributes: Mapping[str, Any] | None = None,
) -> Record:
    """Run ``work()`` as the request ``name``; see the module docstring."""
    step = _StepRun(name, ctx, work)
    return step.finish(await track(name, step.body, label=label, attributes=attributes))


async def run_inline(name: str, ctx: StepContext, work: Callable[[], Awaitable[Record]]) -> Record:
    """``work()`` inside the request that is running (no request of its own), recording
    its changes to the shared store like a step's."""
    return await _StepRun(name, ctx, work).body()


def run_step_sync(
    name: str,
    label: str,
    ctx: StepContext,
    work: Callable[[], Awaitable[Record]],
    *,
    attributes: Mapping[str, Any] | None = None,
) -> Record:
    """Blocking form of :func:`run_step` for code without a running event loop."""
    step = _StepRun(name, ctx, work)
    record: Record = call_sync(tracked_class(name), StepWork(step.body, label, attributes))
    return step.finish(record)
